import { describe, expect, test } from "vitest";
import type { Conversation, ConversationFilter } from "../api";
import { conv, ev, msg } from "./helpers";
import {
  appendMessage,
  applyChanges,
  applyToConversationList,
  matchesFilter,
  setMessageAttachments,
  setMessageStatus,
  type InfinitePages,
} from "../events";

const pages = (...lists: Conversation[][]): InfinitePages<Conversation> => ({
  pages: lists.map((items, i) => ({ items, next_cursor: i < lists.length - 1 ? "more" : "" })),
  pageParams: lists.map((_, i) => (i === 0 ? undefined : "c" + i)),
});
const ids = (d: InfinitePages<Conversation> | undefined) => d!.pages.map((p) => p.items.map((c) => c.id));
const all: ConversationFilter = { view: "all" };

describe("messages", () => {
  test("a created message or note is appended once", () => {
    const a = [msg("m1")];
    const b = appendMessage(a, msg("m2", { created_at: 20, kind: "note", direction: "internal" }))!;
    expect(b.map((m) => m.id)).toEqual(["m1", "m2"]);
    expect(appendMessage(b, msg("m2", { created_at: 20 }))).toBe(b);
    expect(appendMessage(undefined, msg("m3"))).toBeUndefined();
  });

  test("an older message arriving late is put in order", () => {
    const out = appendMessage([msg("m1", { created_at: 10 }), msg("m3", { created_at: 30 })], msg("m2", { created_at: 20 }))!;
    expect(out.map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
  });

  test("a newer copy of a known message replaces it", () => {
    const out = appendMessage([msg("m1", { status: "queued", updated_at: 1 })], msg("m1", { status: "sent", updated_at: 2 }))!;
    expect(out[0].status).toBe("sent");
  });

  test("status changes move the ticks forward only, with the failure reason", () => {
    const base = [msg("m1", { direction: "out", status: "queued" })];
    const sent = setMessageStatus(base, { message_id: "m1", status: "sent" })!;
    expect(sent[0].status).toBe("sent");
    const read = setMessageStatus(sent, { message_id: "m1", status: "read" })!;
    expect(read[0].status).toBe("read");
    // A late "delivered" after "read" is ignored.
    expect(setMessageStatus(read, { message_id: "m1", status: "delivered" })).toBe(read);
    const failed = setMessageStatus(sent, { message_id: "m1", status: "failed", reason: "blocked by the customer" })!;
    expect(failed[0]).toMatchObject({ status: "failed", status_reason: "blocked by the customer" });
    // A retried delivery goes back to queued and forgets the reason.
    const requeued = setMessageStatus(failed, { message_id: "m1", from: "failed", status: "queued", reason: "retry" })!;
    expect(requeued[0]).toMatchObject({ status: "queued", status_reason: "" });
    expect(setMessageStatus(base, { message_id: "nope", status: "sent" })).toBe(base);
  });

  test("message.updated replaces the attachments", () => {
    const a = [msg("m1", { attachments: [{ url: "", ref: "p-1", file_name: "a.jpg", content_type: "image/jpeg", size: 0 }] })];
    const out = setMessageAttachments(a, {
      message_id: "m1",
      attachments: [{ url: "/api/v1/media/x", file_name: "a.jpg", content_type: "image/jpeg", size: 10 }],
    })!;
    expect(out[0].attachments[0].url).toBe("/api/v1/media/x");
  });
});

describe("filters", () => {
  test("views and filters", () => {
    const c = conv("c1", { assignee_id: "me", labels: ["kargo"], team_id: "t1", status: "pending", last_channel: "whatsapp", last_inbox_id: "ib2" });
    expect(matchesFilter(c, { view: "mine" }, "me")).toBe(true);
    expect(matchesFilter(c, { view: "mine" }, "other")).toBe(false);
    expect(matchesFilter(c, { view: "unassigned" }, "me")).toBe(false);
    expect(matchesFilter(conv("c2"), { view: "unassigned" }, "me")).toBe(true);
    expect(matchesFilter(c, { view: "all", status: "pending", label: "kargo", team: "t1", channel: "whatsapp" }, "me")).toBe(true);
    expect(matchesFilter(c, { view: "all", inbox: "ib1" }, "me")).toBe(true); // where it started
    expect(matchesFilter(c, { view: "all", inbox: "ib2" }, "me")).toBe(true); // its last inbox
    expect(matchesFilter(c, { view: "all", status: "open" }, "me")).toBe(false);
    expect(matchesFilter(c, { view: "all", label: "iade" }, "me")).toBe(false);
  });
});

describe("conversation lists", () => {
  test("a message bumps its conversation to the top", () => {
    const data = pages([conv("a", { last_activity_at: 300 }), conv("b", { last_activity_at: 200 })], [conv("c", { last_activity_at: 100 })]);
    const r = applyToConversationList(data, ev("message.created", msg("m", { conversation_id: "c", created_at: 400 }), { conversation_id: "c" }), all, "me");
    expect(r.stale).toBe(false);
    expect(ids(r.data)).toEqual([["c", "a", "b"], []]);
    expect(r.data!.pages[0].items[0].last_activity_at).toBe(400);
  });

  test("notes do not reorder the list", () => {
    const data = pages([conv("a", { last_activity_at: 300 }), conv("b", { last_activity_at: 200 })]);
    const r = applyToConversationList(data, ev("note.created", msg("n", { conversation_id: "b", kind: "note", created_at: 400 }), { conversation_id: "b" }), all, "me");
    expect(r.data).toBe(data);
  });

  test("a customer message in a conversation not loaded asks for a refetch", () => {
    const data = pages([conv("a")]);
    const r = applyToConversationList(data, ev("message.created", msg("m", { conversation_id: "zz" }), { conversation_id: "zz" }), all, "me");
    expect(r.stale).toBe(true);
    const out = applyToConversationList(data, ev("message.created", msg("m", { conversation_id: "zz", direction: "out" }), { conversation_id: "zz" }), all, "me");
    expect(out.stale).toBe(false);
  });

  test("a created conversation joins the lists it matches, in order", () => {
    const data = pages([conv("a", { last_activity_at: 300 }), conv("b", { last_activity_at: 100 })]);
    const created = conv("n", { last_activity_at: 200 });
    const r = applyToConversationList(data, ev("conversation.created", created, { conversation_id: "n" }), all, "me");
    expect(ids(r.data)).toEqual([["a", "n", "b"]]);
    const mine = applyToConversationList(data, ev("conversation.created", created, { conversation_id: "n" }), { view: "mine" }, "me");
    expect(mine.data).toBe(data);
  });

  test("an update replaces the item, or removes it when it no longer matches", () => {
    const data = pages([conv("a"), conv("b")]);
    const updated = conv("a", { priority: "urgent" });
    const r = applyToConversationList(data, ev("conversation.updated", { changes: { priority: { from: "normal", to: "urgent" } }, conversation: updated }, { conversation_id: "a" }), all, "me");
    expect(r.data!.pages[0].items[0].priority).toBe("urgent");
    const resolved = conv("a", { status: "resolved" });
    const gone = applyToConversationList(data, ev("conversation.updated", { changes: {}, conversation: resolved }, { conversation_id: "a" }), { view: "all", status: "open" }, "me");
    expect(ids(gone.data)).toEqual([["b"]]);
  });

  test("an update with only changes patches the known copy; assigning to me adds it to Mine", () => {
    const data = pages([conv("a", { status: "snoozed", snoozed_until: 5 })]);
    const reopen = ev("conversation.updated", { changes: { status: { from: "snoozed", to: "open" } } }, { conversation_id: "a" });
    const r = applyToConversationList(data, reopen, all, "me");
    expect(r.data!.pages[0].items[0]).toMatchObject({ status: "open", snoozed_until: null });

    const mine = pages([]);
    const assigned = ev("conversation.updated", { changes: { assignee_id: { from: "", to: "me" } }, conversation: conv("x", { assignee_id: "me" }) }, { conversation_id: "x" });
    expect(ids(applyToConversationList(mine, assigned, { view: "mine" }, "me").data)).toEqual([["x"]]);
    // Unknown conversation and no full copy: refetch.
    expect(applyToConversationList(mine, reopen, all, "me").stale).toBe(true);
  });

  test("applyChanges maps every field; empty ids mean none", () => {
    const c = applyChanges(
      conv("a", { assignee_id: "u1", team_id: "t1" }),
      {
        assignee_id: { from: "u1", to: "" },
        team_id: { from: "t1", to: "" },
        labels: { from: [], to: ["vip"] },
        subject: { to: "Yeni" },
        priority: { to: "high" },
        status: { to: "resolved" },
      },
      999,
    );
    expect(c).toMatchObject({ assignee_id: null, team_id: null, labels: ["vip"], subject: "Yeni", priority: "high", status: "resolved", resolved_at: 999 });
  });
});
