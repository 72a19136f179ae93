// Unread marks: a conversation is unread when it had activity after this
// agent last opened it in this browser. Kept in localStorage until the API
// keeps read state per agent.

import type { Conversation } from "./api";

const KEY = "kanal.seen";
const MAX = 1000;

export type Seen = Record<string, number>;

export function loadSeen(storage: Pick<Storage, "getItem"> | undefined = safeStorage()): Seen {
  try {
    const v = JSON.parse(storage?.getItem(KEY) ?? "{}");
    return v && typeof v === "object" ? (v as Seen) : {};
  } catch {
    return {};
  }
}

export function isUnread(c: Pick<Conversation, "id" | "last_activity_at">, seen: Seen): boolean {
  return c.last_activity_at > (seen[c.id] ?? 0);
}

/** Records that the conversation was opened with activity up to at; keeps the newest MAX entries. */
export function markSeen(seen: Seen, id: string, at: number): Seen {
  if ((seen[id] ?? 0) >= at) return seen;
  const next: Seen = { ...seen, [id]: at };
  const ids = Object.keys(next);
  if (ids.length > MAX) {
    ids.sort((a, b) => next[a] - next[b]);
    for (const old of ids.slice(0, ids.length - MAX)) delete next[old];
  }
  return next;
}

export function saveSeen(seen: Seen, storage: Pick<Storage, "setItem"> | undefined = safeStorage()) {
  try {
    storage?.setItem(KEY, JSON.stringify(seen));
  } catch {
    /* full or private mode */
  }
}

function safeStorage(): Storage | undefined {
  try {
    return typeof localStorage === "undefined" ? undefined : localStorage;
  } catch {
    return undefined;
  }
}
