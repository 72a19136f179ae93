// Pure reducers that apply events of the workspace's log (delivered by the
// WebSocket) to the data the app keeps: a conversation's messages and the
// pages of a conversation list. No I/O here, so they are unit-tested alone.

import type { Attachment, Conversation, ConversationFilter, KanalEvent, Message, Page } from "./api";

export interface InfinitePages<T> {
  pages: Page<T>[];
  pageParams: unknown[];
}

/** Appends a created message or note (once; a second delivery is ignored). */
export function appendMessage(msgs: Message[] | undefined, m: Message): Message[] | undefined {
  if (!msgs) return msgs;
  const i = msgs.findIndex((x) => x.id === m.id);
  if (i >= 0) {
    // Already there (our own POST answer came first): keep the newer copy.
    if (msgs[i].updated_at >= m.updated_at) return msgs;
    const out = msgs.slice();
    out[i] = { ...msgs[i], ...m };
    return out;
  }
  const out = [...msgs, m];
  // Keep the timeline in order even if events and answers interleave.
  if (msgs.length > 0 && msgs[msgs.length - 1].created_at > m.created_at) {
    out.sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  return out;
}

const statusRank: Record<string, number> = { received: 0, queued: 1, sent: 2, delivered: 3, read: 4, failed: 5 };

/** Applies message.status_changed ({message_id, status, reason}) to the ticks. */
export function setMessageStatus(
  msgs: Message[] | undefined,
  data: { message_id: string; status: string; reason?: string; from?: string },
): Message[] | undefined {
  if (!msgs) return msgs;
  const i = msgs.findIndex((x) => x.id === data.message_id);
  if (i < 0) return msgs;
  const cur = msgs[i];
  // Reports can arrive out of order; a requeue (failed → queued, reason "retry") is the one way back.
  const back = data.from === "failed" && data.status === "queued";
  if (!back && (statusRank[data.status] ?? 0) <= (statusRank[cur.status] ?? 0) && cur.status !== data.status) return msgs;
  const out = msgs.slice();
  out[i] = {
    ...cur,
    status: data.status as Message["status"],
    status_reason: data.status === "failed" ? (data.reason ?? "") : "",
  };
  return out;
}

/** Applies message.updated ({message_id, attachments}): a fetched attachment now points at Kanal's copy. */
export function setMessageAttachments(
  msgs: Message[] | undefined,
  data: { message_id: string; attachments?: Attachment[] },
): Message[] | undefined {
  if (!msgs || !data.attachments) return msgs;
  const i = msgs.findIndex((x) => x.id === data.message_id);
  if (i < 0) return msgs;
  const out = msgs.slice();
  out[i] = { ...msgs[i], attachments: data.attachments };
  return out;
}

/** Whether a conversation belongs in a list with this filter (meId: the agent). */
export function matchesFilter(c: Conversation, f: ConversationFilter, meId: string): boolean {
  if (f.view === "mine" && c.assignee_id !== meId) return false;
  if (f.view === "unassigned" && c.assignee_id) return false;
  if (f.status && c.status !== f.status) return false;
  if (f.channel && c.last_channel !== f.channel) return false;
  if (f.inbox && c.inbox_id !== f.inbox && c.last_inbox_id !== f.inbox) return false;
  if (f.team && c.team_id !== f.team) return false;
  if (f.label && !c.labels.includes(f.label)) return false;
  return true;
}

type Changes = Record<string, { from?: unknown; to?: unknown }>;

/** Applies conversation.updated's {changes} to a conversation whose full copy the event lacks. */
export function applyChanges(c: Conversation, changes: Changes, at: number): Conversation {
  const out: Conversation = { ...c };
  for (const [field, ch] of Object.entries(changes ?? {})) {
    const to = ch?.to;
    switch (field) {
      case "status":
        out.status = to as Conversation["status"];
        out.resolved_at = to === "resolved" ? at : null;
        if (to !== "snoozed") out.snoozed_until = null;
        break;
      case "priority":
        out.priority = to as Conversation["priority"];
        break;
      case "assignee_id":
        out.assignee_id = (to as string) || null;
        break;
      case "team_id":
        out.team_id = (to as string) || null;
        break;
      case "subject":
        out.subject = String(to ?? "");
        break;
      case "labels":
        out.labels = Array.isArray(to) ? (to as string[]) : [];
        break;
      case "snoozed_until":
        out.snoozed_until = (to as number | null) ?? null;
        break;
    }
  }
  out.updated_at = Math.max(c.updated_at, at);
  return out;
}

/** The conversation an event leaves behind, from its payload or by patching the known copy. */
export function conversationAfter(ev: KanalEvent, known: Conversation | undefined): Conversation | undefined {
  if (ev.type === "conversation.created") return ev.data as Conversation;
  if (ev.type !== "conversation.updated") return known;
  const data = (ev.data ?? {}) as { changes?: Changes; conversation?: Conversation };
  if (data.conversation && data.conversation.id) return data.conversation;
  if (!known) return undefined;
  return applyChanges(known, data.changes ?? {}, ev.created_at);
}

/** A conversation after one of its messages (not notes) arrived or went out. */
export function bumpConversation(c: Conversation, m: Message): Conversation {
  if (m.kind !== "message") return c;
  const out = { ...c, last_activity_at: Math.max(c.last_activity_at, m.created_at) };
  if (m.direction === "in") {
    out.last_inbound_at = Math.max(c.last_inbound_at ?? 0, m.created_at);
    out.last_inbox_id = m.inbox_id;
    out.last_channel = m.channel;
  }
  return out;
}

function findIn<T extends { id: string }>(data: InfinitePages<T>, id: string): T | undefined {
  for (const p of data.pages) {
    const x = p.items.find((i) => i.id === id);
    if (x) return x;
  }
  return undefined;
}

function without<T extends { id: string }>(data: InfinitePages<T>, id: string): InfinitePages<T> {
  return { ...data, pages: data.pages.map((p) => ({ ...p, items: p.items.filter((i) => i.id !== id) })) };
}

/** Puts c where most recent activity first says it goes (within the loaded pages). */
function insertSorted(data: InfinitePages<Conversation>, c: Conversation): InfinitePages<Conversation> {
  const pages = data.pages.map((p) => ({ ...p, items: p.items.slice() }));
  if (pages.length === 0) pages.push({ items: [], next_cursor: "" });
  for (const p of pages) {
    const i = p.items.findIndex((x) => x.last_activity_at < c.last_activity_at);
    if (i >= 0) {
      p.items.splice(i, 0, c);
      return { ...data, pages };
    }
  }
  const last = pages[pages.length - 1];
  if (!last.next_cursor) last.items.push(c); // older than all, and there is nothing further to load
  return { ...data, pages };
}

export interface ListResult {
  data: InfinitePages<Conversation> | undefined;
  /** The event concerns this list but cannot be applied from what is loaded: refetch it. */
  stale: boolean;
}

/** Applies one event to a loaded conversation list shown with filter f. */
export function applyToConversationList(
  data: InfinitePages<Conversation> | undefined,
  ev: KanalEvent,
  f: ConversationFilter,
  meId: string,
): ListResult {
  if (!data) return { data, stale: false };
  const id = ev.conversation_id ?? (ev.data as { id?: string } | undefined)?.id;
  if (!id) return { data, stale: false };
  const known = findIn(data, id);
  switch (ev.type) {
    case "message.created": {
      const m = ev.data as Message;
      if (m.kind !== "message") return { data, stale: false };
      // A customer's message to a conversation not loaded here may put it on top: refetch.
      if (!known) return { data, stale: m.direction === "in" };
      const c = bumpConversation(known, m);
      return { data: insertSorted(without(data, id), c), stale: false };
    }
    case "conversation.created":
    case "conversation.updated": {
      const c = conversationAfter(ev, known);
      if (!c) return { data, stale: true };
      const rest = known ? without(data, id) : data;
      if (!matchesFilter(c, f, meId)) return { data: known ? rest : data, stale: false };
      if (known) {
        // Same place, new content.
        return {
          data: { ...data, pages: data.pages.map((p) => ({ ...p, items: p.items.map((x) => (x.id === id ? c : x)) })) },
          stale: false,
        };
      }
      return { data: insertSorted(data, c), stale: false };
    }
  }
  return { data, stale: false };
}
