import { AppError } from '../errors.js';
import type { KbDestination, KbDestinations } from '../../shared/knowledge-base.js';

/** A named destination, as a task's `destination` option (`kb:<name>`) picks it. */
export interface NamedDestination {
  name: string;
  destination: KbDestination;
}

const nameOf = (option: string): string => option.replace(/^kb:/, '');

const mayUse = (destination: KbDestination, owner: string): boolean =>
  destination.keys.includes('*') || destination.keys.includes(owner);

/** The destinations a caller may name, by name. */
export const destinationsFor = (destinations: KbDestinations, owner: string): string[] =>
  Object.entries(destinations)
    .filter(([, destination]) => mayUse(destination, owner))
    .map(([name]) => `kb:${name}`)
    .sort();

/**
 * The destination a task's option names, if it has one and its owner may use
 * it. A submission checks it with `checkDestination`; a worker whose
 * configuration lost it since finds none and fails the task (see deliver.ts).
 */
export const destinationOf = (
  option: string | undefined,
  owner: string,
  destinations: KbDestinations,
): NamedDestination | undefined => {
  if (option === undefined) return undefined;
  const name = nameOf(option);
  const destination = Object.hasOwn(destinations, name) ? destinations[name] : undefined;
  return destination && mayUse(destination, owner) ? { name, destination } : undefined;
};

/**
 * Refuses, at submission, a `destination` this caller may not name: a 400
 * that lists the ones it may (never another caller's).
 */
export const checkDestination = (option: string | undefined, owner: string, destinations: KbDestinations): void => {
  if (option === undefined || destinationOf(option, owner, destinations)) return;
  const allowed = destinationsFor(destinations, owner);
  const message = allowed.length
    ? `no knowledge-base destination ${option} for this API key; it may name: ${allowed.join(', ')}`
    : `no knowledge-base destination ${option}: none is configured for this API key (docs/knowledge-bases.md)`;
  throw new AppError('VALIDATION_ERROR', `Invalid options: destination: ${message}`, {
    details: [{ field: 'destination', message }],
  });
};
