import { Worker } from '@temporalio/worker';
import test from 'ava';
import { readFileSync } from 'node:fs';
import { workflowBundle } from '../support/timeSkipping';
import * as proto from '@temporalio/proto';
import { createRequire } from 'node:module';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
test('scratch', async (t) => {
  const pj = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson');
  const type = (patchProtobufRoot(proto) as any).lookupType('temporal.api.history.v1.History');
  const h = pj.fromJson(type, JSON.parse(readFileSync('node_modules/.cache/task-promised-v9.json', 'utf8')), { ignoreUnknownFields: true });
  const err = await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, h, 'x').then(() => 'replayed', (e) => String(e).slice(0, 400));
  console.log(err);
  t.pass();
});
