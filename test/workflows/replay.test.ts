/**
 * Recorded histories of an earlier version of the workflows, replayed with the current code: a
 * change that would break the cases already running under that version (a command added,
 * removed or reordered without `patched()`) fails here before it is deployed. No server runs:
 * the replay worker reads the files.
 *
 * The files in test/workflows/histories/ are the histories of two workflow tests, recorded on
 * the version named in their file name:
 *   case-promised-v1.json    case.test.ts  "a promised case approved by its department ..."
 *   case-joint-deny-v1.json  joint.test.ts "a related department that denies ..."
 * v1 is the code of commit 0625c1e, the last one before the statutory clock (timers, warnings,
 * the art. 32 lapse) and department delivery entered the workflows.
 *
 * To record the histories of a version vN (the older files stay: cases of every version that
 * may still be running must replay; saveHistory never overwrites one):
 *   git worktree add /tmp/onedoor-rec <commit>       # the version to record
 *   cd /tmp/onedoor-rec && ln -s <repo>/node_modules node_modules && ln -s <repo>/.tools .tools
 *   cp <repo>/test/support/timeSkipping.ts test/support/
 *   cp <repo>/test/workflows/{case,joint}.test.ts test/workflows/
 *   # drop from timeSkipping.ts the fakes of activities that version does not have yet
 *   RECORD_HISTORIES=vN npx ava test/workflows/case.test.ts test/workflows/joint.test.ts
 *   cp test/workflows/histories/*-vN.json <repo>/test/workflows/histories/
 *   cd <repo> && git worktree remove /tmp/onedoor-rec
 * then add a test below for each new file.
 */
import { Worker } from '@temporalio/worker';
import test from 'ava';
import { readHistoryFile, workflowBundle } from '../support/timeSkipping';

async function replay(fileName: string): Promise<void> {
  const history = readHistoryFile(fileName);
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, fileName);
}

// BUG (workflows/case.ts and departmentTask.ts, not replay-safe): since commit 6cf4c91 the case
// workflow starts watchIntakeLapse() right after registration, and its first step schedules
// computeDeadline in the workflow task where v1 only completed the `registered` update. A v1
// case still running when the new code is deployed fails its next workflow task with TMPRL1100
// "Activity machine does not handle this event: WorkflowExecutionUpdateCompleted" (event 12
// here, 15 in the joint file) and stays stuck. A v1 department task fails the same way (checked
// by hand on a recorded v1 task history): its delivery activity, added after taskOpened, takes
// the activity id the v1 conclusion had ("Activity id of scheduled event '3' does not match
// activity id of activity command '4'"). Fix: put each new command behind `patched('<id>')` (or
// run v1 cases out on a v1 worker before switching); these tests then pass: make them plain
// `test` again.
test.failing('a promised case recorded on v1 replays with the current workflow code', async (t) => {
  await t.notThrowsAsync(replay('case-promised-v1.json'));
});

test.failing(
  'a joint case denied by a related department on v1 replays with the current code',
  async (t) => {
    await t.notThrowsAsync(replay('case-joint-deny-v1.json'));
  },
);
