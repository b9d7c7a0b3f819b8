// Smoke check of the time-skipping test environment on the Java test server that
// scripts/ensure-test-server.sh installs as .tools/temporal-test-server.
//
//   npx tsx test/support/timeSkipping.smoke.ts
//
// Starts TestWorkflowEnvironment.createTimeSkipping with that executable, runs a workflow
// that sleeps 10 days, and prints how long each step took in real time. Exits 1 on failure.
// Not an ava test (no .test.ts): run it by hand, or from CI as a quick environment check.
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';

const repo = path.resolve(__dirname, '..', '..');
const executable = path.join(repo, '.tools', 'temporal-test-server');

// Workflow code is bundled by the worker from a file of its own; keep it out of the source
// tree, under node_modules so that '@temporalio/workflow' resolves.
const workflowsDir = path.join(repo, 'node_modules', '.cache', 'onedoor-smoke');
const workflowsPath = path.join(workflowsDir, 'sleepWorkflow.js');
const workflowSource = `const { sleep } = require('@temporalio/workflow');
exports.sleepTenDays = async function sleepTenDays() {
  await sleep('10 days');
  return 'woke up';
};
`;

const TEN_DAYS_MS = 10 * 24 * 3600 * 1000;

async function main(): Promise<void> {
  if (!fs.existsSync(executable)) {
    throw new Error(`${executable} is missing: run scripts/ensure-test-server.sh`);
  }
  fs.mkdirSync(workflowsDir, { recursive: true });
  if (!fs.existsSync(workflowsPath) || fs.readFileSync(workflowsPath, 'utf8') !== workflowSource) {
    fs.writeFileSync(workflowsPath, workflowSource);
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });

  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const ms = Math.round(now - t);
    t = now;
    return ms;
  };

  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: executable } },
  });
  const envMs = lap();
  try {
    const taskQueue = 'smoke-time-skipping';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowsPath,
    });
    const workerMs = lap();

    const workflowId = `smoke-sleep-${Date.now()}`;
    const serverStart = await env.currentTimeMs();
    const result = await worker.runUntil(
      env.client.workflow.execute('sleepTenDays', { taskQueue, workflowId, args: [] }),
    );
    const serverEnd = await env.currentTimeMs();
    const runMs = lap();
    const skippedDays = (serverEnd - serverStart) / (24 * 3600 * 1000);

    if (result !== 'woke up') throw new Error(`unexpected workflow result: ${String(result)}`);
    if (serverEnd - serverStart < TEN_DAYS_MS) {
      throw new Error(`server clock advanced only ${skippedDays.toFixed(2)} days`);
    }
    console.log(
      `time-skipping env ready in ${envMs} ms; worker created (workflow bundle) in ${workerMs} ms; ` +
        `10-day sleep workflow done in ${runMs} ms real (server clock +${skippedDays.toFixed(2)} days)`,
    );
  } finally {
    await env.teardown();
  }
  console.log(`teardown in ${lap()} ms`);
}

main().catch((err: unknown) => {
  console.error('time-skipping smoke FAILED:', err);
  process.exit(1);
});
