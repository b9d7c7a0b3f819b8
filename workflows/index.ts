/** The workflows the hall's worker runs. */
export { caseWorkflow } from './case';
export { departmentTaskWorkflow } from './departmentTask';
