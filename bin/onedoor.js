#!/usr/bin/env node
// The `onedoor` command: dispatches a subcommand to the TypeScript module that implements it.
'use strict';

const path = require('node:path');

// Subcommand → the module under cli/ and the function it exports. A runner takes the arguments
// after the subcommand and returns an exit code, or a promise of one for long-running commands.
const COMMANDS = {
  hall: {
    module: 'hall.ts',
    run: 'runHall',
    summary: 'run the hall and play the reference applications',
  },
  worker: { module: 'worker.ts', run: 'runWorker', summary: 'run a Temporal worker of the hall' },
  api: { module: 'api.ts', run: 'runApi', summary: 'serve the REST API' },
  seed: { module: 'seed.ts', run: 'runSeed', summary: 'migrate the register and load the catalog' },
  'outer-portal': {
    module: 'outerPortal.ts',
    run: 'runOuterPortal',
    summary: "serve the outer network's case lookup from the bundles the ferry brings",
  },
  'department-system': {
    module: '../emulators/departmentSystem.ts',
    run: 'runDepartmentSystem',
    summary: "emulate the department systems that take the hall's task messages (XML)",
  },
  'sms-gateway': {
    module: '../emulators/smsGateway.ts',
    run: 'runSmsGateway',
    summary: 'emulate the SMS gateway: signed sends, dedupe, delivery reports',
  },
  'smtp-server': {
    module: '../emulators/smtp.ts',
    run: 'runSmtpServer',
    summary: 'run a loopback SMTP server that keeps the mail it receives',
  },
  bank: {
    module: '../emulators/bank.ts',
    run: 'runBank',
    summary: 'run the bank emulator (orders, callbacks, statements)',
  },
  due: { module: 'due.ts', run: 'runDue', summary: 'compute the statutory due date of a limit' },
  ferry: { module: 'ferry.ts', run: 'runFerryCli', summary: 'carry spool bundles across networks' },
};

function usage(stream) {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  stream.write('usage: onedoor <command> [options]\n\ncommands:\n');
  for (const [name, command] of Object.entries(COMMANDS)) {
    stream.write(`  ${name.padEnd(width)}  ${command.summary}\n`);
  }
}

function setExitCode(code) {
  // Let pending output drain rather than calling process.exit().
  process.exitCode = typeof code === 'number' ? code : 0;
}

function main(argv) {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    usage(name === undefined ? process.stderr : process.stdout);
    return setExitCode(name === undefined ? 2 : 0);
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`onedoor: unknown command "${name}"\n\n`);
    usage(process.stderr);
    return setExitCode(2);
  }
  // tsx 4's CommonJS API: register() hooks require() so the .ts modules load without a build step.
  require('tsx/cjs/api').register();
  const result = require(path.join(__dirname, '..', 'cli', command.module))[command.run](rest);
  if (result && typeof result.then === 'function') {
    result.then(setExitCode, (error) => {
      process.stderr.write(`onedoor ${name}: ${(error && error.stack) || error}\n`);
      setExitCode(1);
    });
  } else {
    setExitCode(result);
  }
}

main(process.argv.slice(2));
