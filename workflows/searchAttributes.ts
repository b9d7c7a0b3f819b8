import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes registered on the Temporal namespace at start (scripts/temporal-dev.sh). */
export const CaseNumberKey = defineSearchAttributeKey('CaseNumber', SearchAttributeType.KEYWORD);
/** The item a case or task decides. */
export const ItemCodeKey = defineSearchAttributeKey('ItemCode', SearchAttributeType.KEYWORD);
/** The department that leads a case or holds a task. */
export const DepartmentKey = defineSearchAttributeKey('Department', SearchAttributeType.KEYWORD);
/** The case or task status. */
export const CaseStatusKey = defineSearchAttributeKey('CaseStatus', SearchAttributeType.KEYWORD);
/** The promised due moment, once the clock runs. */
export const DueAtKey = defineSearchAttributeKey('DueAt', SearchAttributeType.DATETIME);
