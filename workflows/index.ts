/** The workflows the hall's worker runs. */
export { caseWorkflow } from './case';
export { departmentTaskWorkflow } from './departmentTask';
export { calendarRearmWorkflow } from './calendarRearm';
