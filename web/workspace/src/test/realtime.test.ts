import { describe, expect, test, vi } from "vitest";
import { QueryClient } from "@tanstack/react-query";
import type { Conversation, ConversationFilter, KanalEvent, Message, Page } from "../api";
import { applyEventToCache, defaultBackoff, keys, RealtimeClient, socketURL, type SocketLike } from "../realtime";
import type { InfinitePages } from "../events";
import { conv, ev, msg } from "./helpers";

class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readyState = 0;
  sent: string[] = [];
  constructor(public url: string) {}
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(f: object) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  drop() {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({});
  }
}

function harness() {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const events: KanalEvent[] = [];
  const statuses: string[] = [];
  const resync = vi.fn();
  const client = new RealtimeClient({
    url: (after) => socketURL({ protocol: "https:", host: "kanal.example.com" }, after),
    socket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    onEvent: (e) => events.push(e),
    onResync: resync,
    onStatus: (s) => statuses.push(s),
    backoff: (n) => 1000 * 2 ** n,
    setTimer: (fn, ms) => {
      timers.push({ fn, ms });
      return timers.length;
    },
    clearTimer: () => {},
  });
  return { client, sockets, timers, events, statuses, resync };
}

const eventFrame = (seq: number, type = "message.created") => ({ type: "event", event: ev(type, msg("m" + seq), { seq, conversation_id: "c1" }) });

describe("RealtimeClient", () => {
  test("follows from hello's seq, applies events in order once, resumes with ?after=", () => {
    const h = harness();
    h.client.start();
    expect(h.sockets[0].url).toBe("wss://kanal.example.com/api/v1/ws");
    h.sockets[0].open();
    expect(h.client.status).toBe("live");
    h.sockets[0].frame({ type: "hello", last_seq: 41 });
    expect(h.client.lastSeq).toBe(41);
    expect(h.resync).toHaveBeenCalledTimes(1); // what REST loaded before the socket came up is refreshed once

    h.sockets[0].frame(eventFrame(42));
    h.sockets[0].frame(eventFrame(43));
    h.sockets[0].frame(eventFrame(43)); // replayed: ignored
    h.sockets[0].frame(eventFrame(40)); // old: ignored
    expect(h.events.map((e) => e.seq)).toEqual([42, 43]);
    expect(h.client.lastSeq).toBe(43);

    h.sockets[0].drop();
    expect(h.client.status).toBe("offline");
    expect(h.timers).toHaveLength(1);
    expect(h.timers[0].ms).toBe(1000);
    h.timers[0].fn();
    expect(h.sockets[1].url).toBe("wss://kanal.example.com/api/v1/ws?after=43");
    h.sockets[1].open();
    h.sockets[1].frame({ type: "hello", last_seq: 45 });
    h.sockets[1].frame(eventFrame(44));
    h.sockets[1].frame(eventFrame(45));
    expect(h.events.map((e) => e.seq)).toEqual([42, 43, 44, 45]);
    expect(h.resync).toHaveBeenCalledTimes(1);
    expect(h.statuses).toEqual(["connecting", "live", "offline", "connecting", "live"]);
  });

  test("backs off longer after each failed attempt, and resets once connected", () => {
    const h = harness();
    h.client.start();
    h.sockets[0].drop();
    h.timers[0].fn();
    h.sockets[1].drop();
    h.timers[1].fn();
    h.sockets[2].drop();
    expect(h.timers.map((t) => t.ms)).toEqual([1000, 2000, 4000]);
    h.timers[2].fn();
    h.sockets[3].open();
    h.sockets[3].drop();
    expect(h.timers[3].ms).toBe(1000);
  });

  test("a jump in seq is filtered events, not a loss; a resync frame makes the app refetch", () => {
    const h = harness();
    h.client.start();
    h.sockets[0].open();
    h.sockets[0].frame({ type: "hello", last_seq: 10 });
    h.resync.mockClear();
    h.sockets[0].frame(eventFrame(13)); // 11 and 12 were for other roles
    expect(h.resync).toHaveBeenCalledTimes(0);
    expect(h.events.map((e) => e.seq)).toEqual([13]);
    h.sockets[0].frame({ type: "resync" });
    expect(h.resync).toHaveBeenCalledTimes(1);
    expect(h.client.lastSeq).toBeNull();
    h.sockets[0].frame(eventFrame(20));
    expect(h.client.lastSeq).toBe(20);
  });

  test("typing and presence frames go to their handlers; client frames only while live", () => {
    const typing = vi.fn();
    const sockets: FakeSocket[] = [];
    const c = new RealtimeClient({
      url: () => "ws://x/api/v1/ws",
      socket: (u) => {
        const s = new FakeSocket(u);
        sockets.push(s);
        return s;
      },
      onEvent: () => {},
      onResync: () => {},
      onTyping: typing,
      setTimer: () => 0,
      clearTimer: () => {},
    });
    c.start();
    expect(c.send({ type: "typing", conversation_id: "c1", typing: true })).toBe(false);
    sockets[0].open();
    expect(c.send({ type: "typing", conversation_id: "c1", typing: true })).toBe(true);
    expect(JSON.parse(sockets[0].sent[0])).toEqual({ type: "typing", conversation_id: "c1", typing: true });
    sockets[0].frame({ type: "typing", conversation_id: "c1", user_id: "u2", typing: true });
    expect(typing).toHaveBeenCalledWith(expect.objectContaining({ user_id: "u2", typing: true }));
    sockets[0].onmessage?.({ data: "not json" }); // ignored
    c.stop();
    expect(c.status).toBe("offline");
  });

  test("default back-off grows to 30 s with jitter", () => {
    expect(defaultBackoff(0, () => 1)).toBe(1000);
    expect(defaultBackoff(3, () => 1)).toBe(8000);
    expect(defaultBackoff(10, () => 1)).toBe(30000);
    expect(defaultBackoff(10, () => 0)).toBe(15000);
    expect(socketURL({ protocol: "http:", host: "127.0.0.1:8080" }, 7)).toBe("ws://127.0.0.1:8080/api/v1/ws?after=7");
  });
});

describe("applyEventToCache", () => {
  function seeded() {
    const qc = new QueryClient();
    const all: ConversationFilter = { view: "all", status: "open" };
    const mine: ConversationFilter = { view: "mine" };
    const list = (items: Conversation[]): InfinitePages<Conversation> => ({ pages: [{ items, next_cursor: "" } as Page<Conversation>], pageParams: [undefined] });
    qc.setQueryData(keys.conversations(all), list([conv("c2", { last_activity_at: 200 }), conv("c1", { last_activity_at: 100 })]));
    qc.setQueryData(keys.conversations(mine), list([]));
    qc.setQueryData(keys.conversation("c1"), conv("c1", { last_activity_at: 100 }));
    qc.setQueryData<Message[]>(keys.messages("c1"), [msg("m1", { conversation_id: "c1" })]);
    return { qc, all, mine };
  }
  const listIds = (qc: QueryClient, f: ConversationFilter) =>
    qc.getQueryData<InfinitePages<Conversation>>(keys.conversations(f))!.pages[0].items.map((c) => c.id);

  test("message.created appends to the open conversation and bumps the list", () => {
    const { qc, all } = seeded();
    applyEventToCache(qc, ev("message.created", msg("m2", { conversation_id: "c1", created_at: 300, text: "yeni" }), { conversation_id: "c1", customer_id: "cu" }), "me");
    expect(qc.getQueryData<Message[]>(keys.messages("c1"))!.map((m) => m.id)).toEqual(["m1", "m2"]);
    expect(listIds(qc, all)).toEqual(["c1", "c2"]);
    expect(qc.getQueryData<Conversation>(keys.conversation("c1"))!.last_activity_at).toBe(300);
  });

  test("note.created appends without reordering", () => {
    const { qc, all } = seeded();
    applyEventToCache(qc, ev("note.created", msg("n1", { conversation_id: "c1", kind: "note", direction: "internal", created_at: 300 }), { conversation_id: "c1" }), "me");
    expect(qc.getQueryData<Message[]>(keys.messages("c1"))!.map((m) => m.id)).toEqual(["m1", "n1"]);
    expect(listIds(qc, all)).toEqual(["c2", "c1"]);
  });

  test("message.status_changed and message.updated change the message", () => {
    const { qc } = seeded();
    qc.setQueryData<Message[]>(keys.messages("c1"), [msg("m1", { conversation_id: "c1", direction: "out", status: "queued" })]);
    applyEventToCache(qc, ev("message.status_changed", { message_id: "m1", from: "queued", status: "failed", reason: "invalid number" }, { conversation_id: "c1" }), "me");
    expect(qc.getQueryData<Message[]>(keys.messages("c1"))![0]).toMatchObject({ status: "failed", status_reason: "invalid number" });
    const att = [{ url: "/api/v1/media/1", file_name: "f.pdf", content_type: "application/pdf", size: 3 }];
    applyEventToCache(qc, ev("message.updated", { message_id: "m1", attachments: att }, { conversation_id: "c1" }), "me");
    expect(qc.getQueryData<Message[]>(keys.messages("c1"))![0].attachments).toEqual(att);
  });

  test("conversation.updated moves it between views and updates the open one", () => {
    const { qc, all, mine } = seeded();
    const updated = conv("c1", { assignee_id: "me", last_activity_at: 100 });
    applyEventToCache(qc, ev("conversation.updated", { changes: { assignee_id: { from: "", to: "me" } }, conversation: updated }, { conversation_id: "c1", customer_id: "cu-c1" }), "me");
    expect(listIds(qc, mine)).toEqual(["c1"]);
    expect(qc.getQueryData<Conversation>(keys.conversation("c1"))!.assignee_id).toBe("me");
    const resolved = conv("c1", { status: "resolved", assignee_id: "me" });
    applyEventToCache(qc, ev("conversation.updated", { changes: { status: { from: "open", to: "resolved" } }, conversation: resolved }, { conversation_id: "c1" }), "me");
    expect(listIds(qc, all)).toEqual(["c2"]);
    expect(listIds(qc, mine)).toEqual(["c1"]);
  });

  test("conversation.created adds it to matching lists only", () => {
    const { qc, all, mine } = seeded();
    applyEventToCache(qc, ev("conversation.created", conv("c9", { last_activity_at: 500 }), { conversation_id: "c9" }), "me");
    expect(listIds(qc, all)).toEqual(["c9", "c2", "c1"]);
    expect(listIds(qc, mine)).toEqual([]);
  });
});
