import type { Catalog } from '../lib/catalog/types';
import type { Actor } from '../lib/case/model';
import { DomainError } from '../lib/errors';

/** The roles of the hall's people (GLOSSARY: clerk, officer, supervisor; admin runs the system). */
export type Role =
  'clerk' | 'officer' | 'supervisor' | 'admin' | 'headOfOrgan' | 'headOfGovernment';

/** Who calls the API: a person with one role, scoped to a department where the role is. */
export interface Principal {
  id: string;
  role: Role;
  /** Officers and heads of organ act for one department; a clerk's counter belongs to one. */
  department?: string;
  counter?: string;
}

/** Turns a bearer token into a principal. */
export type Authenticator = (token: string) => Principal | undefined;

/**
 * The documented development tokens (README): `dev-clerk` (the comprehensive window, any item),
 * `dev-clerk-<department>`, `dev-officer-<department>`, `dev-head-<department>`,
 * `dev-head-government`, `dev-supervisor`, `dev-admin`. Only on when DEV_TOKENS=on.
 */
export function devTokenAuthenticator(catalog: Catalog): Authenticator {
  const tokens = new Map<string, Principal>([
    ['dev-clerk', { id: 'clerk-c01', role: 'clerk', counter: 'C01' }],
    ['dev-supervisor', { id: 'supervisor-1', role: 'supervisor' }],
    ['dev-admin', { id: 'admin-1', role: 'admin' }],
    ['dev-head-government', { id: 'head-government', role: 'headOfGovernment' }],
  ]);
  let counter = 1;
  for (const d of catalog.departments.values()) {
    const window = `W${String(counter++).padStart(3, '0')}`;
    tokens.set(`dev-clerk-${d.code}`, {
      id: `clerk-${d.code}`,
      role: 'clerk',
      department: d.code,
      counter: window,
    });
    tokens.set(`dev-officer-${d.code}`, {
      id: `officer-${d.code}`,
      role: 'officer',
      department: d.code,
    });
    tokens.set(`dev-head-${d.code}`, {
      id: `head-${d.code}`,
      role: 'headOfOrgan',
      department: d.code,
    });
  }
  return (token) => tokens.get(token);
}

/** Reads the bearer token of a request and finds its principal, or refuses with 401. */
export function authenticate(header: string | undefined, auth: Authenticator): Principal {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) throw new DomainError('unauthenticated', 'send Authorization: Bearer <token>');
  const principal = auth(match[1]);
  if (!principal) throw new DomainError('unauthenticated', 'the token is not known');
  return principal;
}

/** The audit-trail actor of a principal. */
export function actorOf(p: Principal): Actor {
  return { id: p.id, role: p.role, department: p.department, counter: p.counter };
}

/** Refuses a department-scoped principal acting on another department's business. */
export function requireDepartment(p: Principal, department: string, what: string): void {
  if (p.department && p.department !== department) {
    throw new DomainError(
      'wrong_department',
      `${what} belongs to ${department}, not ${p.department}`,
    );
  }
}
