import pino from 'pino';

/**
 * The one logger of the hall. Identity numbers, phone numbers, tokens and credentials are
 * redacted centrally here, so no component has to remember to.
 */
export const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { app: 'onedoor' },
  redact: {
    paths: [
      '*.idNumber',
      '*.*.idNumber',
      '*.phone',
      '*.*.phone',
      '*.creditCode',
      'authorization',
      '*.authorization',
      'req.headers.authorization',
      'token',
      '*.token',
      'password',
      '*.password',
    ],
    censor: '[redacted]',
  },
});

/** A child logger for one component (api, worker, seed, driver). */
export function componentLogger(component: string): pino.Logger {
  return logger.child({ component });
}
