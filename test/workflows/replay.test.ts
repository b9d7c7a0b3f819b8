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
 * v1 is the first version that ships: the code of the first landing. (An earlier draft of this
 * session's workflows was never deployed, so no case of it can be running.) From here on a
 * workflow change that alters the commands of a running case goes behind `patched()`.
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

test('a promised case recorded on v1 replays with the current workflow code', async (t) => {
  await t.notThrowsAsync(replay('case-promised-v1.json'));
});

test('a joint case denied by a department on v1 replays with the current code', async (t) => {
  await t.notThrowsAsync(replay('case-joint-deny-v1.json'));
});
