// Small helpers around valibot for schemas whose errors people read (the window, a peer's log,
// an operator): every check carries its own text, and a missing field is reported with the
// text its own schema gives, not as a wrong object.

import * as v from 'valibot';

type Message = string | ((issue: v.ObjectIssue | v.LooseObjectIssue) => string);

/** What `schema` says of a missing value: its first issue's message. */
function missingText(schema: v.GenericSchema | undefined, key: string): string {
  return (schema && v.safeParse(schema, undefined, { abortEarly: true }).issues?.[0]?.message) ?? `${key} is missing`;
}

function objectText(entries: v.ObjectEntries, notObject: Message) {
  return (issue: v.ObjectIssue | v.LooseObjectIssue): string => {
    const at = issue.path?.[0];
    if (at?.origin === 'key') return missingText(entries[at.key as string] as v.GenericSchema, String(at.key));
    return typeof notObject === 'string' ? notObject : notObject(issue);
  };
}

/** v.object (unknown keys dropped) whose missing fields say what their schema says. */
export function object<E extends v.ObjectEntries>(entries: E, notObject: Message) {
  return v.object(entries, objectText(entries, notObject));
}

/** v.looseObject (unknown keys kept: a newer writer's fields) whose missing fields say what their schema says. */
export function looseObject<E extends v.ObjectEntries>(entries: E, notObject: Message) {
  return v.looseObject(entries, objectText(entries, notObject));
}

/** The first issue of a failed parse: its message, and the path to it. */
export function firstIssue(issues: readonly v.BaseIssue<unknown>[]): { message: string; path: (string | number)[] } {
  const i = issues[0];
  return { message: i.message, path: (i.path ?? []).map((p) => p.key as string | number) };
}
