// Live updates over the WebSocket at /api/v1/ws (protocol: docs/realtime.md).
//
// The client keeps the seq of the last event it applied and reconnects with
// ?after=<seq> and a growing back-off, so nothing is lost on a flaky
// connection. Events are applied to the TanStack Query cache by
// applyEventToCache. While no socket is up, the app refetches every 10 s.

import type { QueryClient } from "@tanstack/react-query";
import type { Conversation, ConversationFilter, KanalEvent, Message } from "./api";
import {
  appendMessage,
  applyToConversationList,
  bumpConversation,
  conversationAfter,
  setMessageAttachments,
  setMessageStatus,
  type InfinitePages,
} from "./events";

export type ConnectionStatus = "connecting" | "live" | "offline";

export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(): void;
  readonly readyState: number;
}

export interface TypingFrame {
  type: "typing";
  conversation_id: string;
  user_id?: string;
  typing: boolean;
}
export interface PresenceFrame {
  type: "presence";
  user_id?: string;
  status?: string;
}

export interface RealtimeOptions {
  /** The socket URL for a start after seq (null: from now). */
  url: (after: number | null) => string;
  socket?: (url: string) => SocketLike;
  onEvent: (ev: KanalEvent) => void;
  /** The server cannot replay what was missed, or a gap was seen: refetch everything. */
  onResync: () => void;
  onStatus?: (s: ConnectionStatus) => void;
  onTyping?: (f: TypingFrame) => void;
  onPresence?: (f: PresenceFrame) => void;
  /** Milliseconds to wait before reconnect attempt n (0-based). */
  backoff?: (attempt: number) => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

/** 1 s, 2 s, 4 s ... up to 30 s, with jitter so that many tabs do not reconnect at once. */
export function defaultBackoff(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
  return Math.round(base * (0.5 + random() / 2));
}

export function socketURL(loc: { protocol: string; host: string }, after: number | null): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/api/v1/ws` + (after !== null ? `?after=${after}` : "");
}

export class RealtimeClient {
  lastSeq: number | null = null;
  status: ConnectionStatus = "offline";
  private ws: SocketLike | null = null;
  private attempt = 0;
  private timer: unknown = null;
  private stopped = true;
  private o: Required<Pick<RealtimeOptions, "backoff" | "setTimer" | "clearTimer" | "socket">> & RealtimeOptions;

  constructor(opts: RealtimeOptions) {
    this.o = {
      backoff: (n) => defaultBackoff(n),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      socket: (url) => new WebSocket(url) as unknown as SocketLike,
      ...opts,
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.timer !== null) this.o.clearTimer(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close();
      } catch {
        /* already closed */
      }
    }
    this.setStatus("offline");
  }

  /** Sends a client frame ({type: "typing" | "presence", ...}) when connected; false otherwise. */
  send(frame: object): boolean {
    if (!this.ws || this.status !== "live" || this.ws.readyState !== 1) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  private setStatus(s: ConnectionStatus) {
    if (this.status === s) return;
    this.status = s;
    this.o.onStatus?.(s);
  }

  private connect() {
    if (this.stopped) return;
    this.setStatus("connecting");
    let ws: SocketLike;
    try {
      ws = this.o.socket(this.o.url(this.lastSeq));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setStatus("live");
    };
    ws.onmessage = (e) => this.handle(e.data);
    ws.onerror = () => {
      /* onclose follows */
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setStatus("offline");
      // 1008: the member was removed or the token revoked; reconnecting
      // would only be refused again.
      if ((e as { code?: number } | null)?.code === 1008) return;
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect() {
    if (this.stopped) return;
    const wait = this.o.backoff(this.attempt++);
    this.timer = this.o.setTimer(() => {
      this.timer = null;
      this.connect();
    }, wait);
  }

  /** Handles one server frame; exported behaviour is tested through a fake socket. */
  handle(raw: unknown) {
    let f: { type?: string; [k: string]: unknown };
    try {
      f = JSON.parse(typeof raw === "string" ? raw : String(raw));
    } catch {
      return;
    }
    switch (f.type) {
      case "hello": {
        const seq = Number(f.last_seq);
        if (!Number.isFinite(seq)) return;
        if (this.lastSeq === null) {
          // First contact: what we loaded over REST is current; follow from here.
          this.lastSeq = seq;
          this.o.onResync();
        } else if (f.reset === true || seq < this.lastSeq) {
          // The server's log is behind what we saw (restored database?): start over.
          this.lastSeq = seq;
          this.o.onResync();
        }
        return;
      }
      case "event": {
        const ev = f.event as KanalEvent | undefined;
        if (!ev || typeof ev.seq !== "number") return;
        if (this.lastSeq !== null && ev.seq <= this.lastSeq) return; // replayed twice
        // A jump in seq is not a loss: events this member may not see are
        // filtered out. The server never skips one it should send; when it
        // cannot keep up it says "resync" instead.
        this.lastSeq = ev.seq;
        this.o.onEvent(ev);
        return;
      }
      case "resync":
        this.lastSeq = null;
        this.o.onResync();
        return;
      case "typing":
        this.o.onTyping?.(f as unknown as TypingFrame);
        return;
      case "presence":
        this.o.onPresence?.(f as unknown as PresenceFrame);
        return;
    }
  }
}

// ---------------------------------------------------------------------------
// Applying events to the query cache

/** The query keys of the app's server state. */
export const keys = {
  me: ["me"] as const,
  conversations: (f: ConversationFilter) => ["conversations", f] as const,
  conversation: (id: string) => ["conversation", id] as const,
  messages: (id: string) => ["messages", id] as const,
  customer: (id: string) => ["customer", id] as const,
  customerConversations: (id: string) => ["customerConversations", id] as const,
  timeline: (id: string) => ["timeline", id] as const,
  users: ["users"] as const,
  teams: ["teams"] as const,
  inboxes: ["inboxes"] as const,
  workspace: ["workspace"] as const,
};

/** Applies one event of the log to the cache; meId is the agent (for the "Mine" view). */
export function applyEventToCache(qc: QueryClient, ev: KanalEvent, meId: string) {
  const convId = ev.conversation_id;
  const custId = ev.customer_id;
  switch (ev.type) {
    case "message.created":
    case "note.created": {
      const m = ev.data as Message;
      if (!m || !m.id) break;
      const cid = convId ?? m.conversation_id;
      qc.setQueryData<Message[]>(keys.messages(cid), (old) => appendMessage(old, m));
      qc.setQueryData<Conversation>(keys.conversation(cid), (old) => (old ? bumpConversation(old, m) : old));
      applyToLists(qc, ev, meId);
      break;
    }
    case "message.status_changed":
      if (convId) {
        qc.setQueryData<Message[]>(keys.messages(convId), (old) =>
          setMessageStatus(old, ev.data as { message_id: string; status: string; reason?: string; from?: string }),
        );
      }
      break;
    case "message.updated":
      if (convId) {
        qc.setQueryData<Message[]>(keys.messages(convId), (old) =>
          setMessageAttachments(old, ev.data as { message_id: string; attachments?: Message["attachments"] }),
        );
      }
      break;
    case "conversation.created":
    case "conversation.updated": {
      const id = convId ?? (ev.data as { id?: string })?.id;
      if (id) {
        const known = qc.getQueryData<Conversation>(keys.conversation(id));
        const next = conversationAfter(ev, known);
        if (next) qc.setQueryData(keys.conversation(id), next);
        else if (known) void qc.invalidateQueries({ queryKey: keys.conversation(id) });
      }
      applyToLists(qc, ev, meId);
      if (custId) void qc.invalidateQueries({ queryKey: keys.customerConversations(custId) });
      break;
    }
    case "customer.created":
    case "customer.updated":
    case "customer.identity_added":
    case "customer.identity_changed":
      if (custId) void qc.invalidateQueries({ queryKey: keys.customer(custId) });
      break;
    case "inbox.created":
    case "inbox.updated":
    case "inbox.deleted":
      void qc.invalidateQueries({ queryKey: keys.inboxes });
      break;
    case "team.created":
    case "team.updated":
    case "team.deleted":
      void qc.invalidateQueries({ queryKey: keys.teams });
      break;
    case "user.created":
    case "membership.changed":
    case "membership.removed":
      void qc.invalidateQueries({ queryKey: keys.users });
      break;
    case "workspace.updated":
      void qc.invalidateQueries({ queryKey: keys.workspace });
      void qc.invalidateQueries({ queryKey: keys.me });
      break;
  }
  if (custId) void qc.invalidateQueries({ queryKey: keys.timeline(custId) });
}

function applyToLists(qc: QueryClient, ev: KanalEvent, meId: string) {
  for (const [key, data] of qc.getQueriesData<InfinitePages<Conversation>>({ queryKey: ["conversations"] })) {
    const filter = key[1] as ConversationFilter | undefined;
    if (!filter || !data) continue;
    const r = applyToConversationList(data, ev, filter, meId);
    if (r.data !== data) qc.setQueryData(key, r.data);
    if (r.stale) void qc.invalidateQueries({ queryKey: key, exact: true });
  }
}
