import { describe, expect, test } from "vitest";
import { isUnread, loadSeen, markSeen, saveSeen } from "../unread";
import { shortcutFor, step } from "../shortcuts";
import { matchCanned } from "../canned";
import { htmlToText, inlineImage, safeURL } from "../format";
import { parseRoute, routePath } from "../router";
import { eventSummary } from "../components/CustomerPage";
import { ev, msg } from "./helpers";

describe("unread", () => {
  test("newer activity than the last open is unread; seen marks persist", () => {
    let seen = {};
    expect(isUnread({ id: "a", last_activity_at: 5 }, seen)).toBe(true);
    seen = markSeen(seen, "a", 5);
    expect(isUnread({ id: "a", last_activity_at: 5 }, seen)).toBe(false);
    expect(isUnread({ id: "a", last_activity_at: 6 }, seen)).toBe(true);
    expect(markSeen(seen, "a", 4)).toBe(seen);
    const store: Record<string, string> = {};
    saveSeen(seen, { setItem: (k, v) => (store[k] = v) });
    expect(loadSeen({ getItem: (k) => store[k] ?? null })).toEqual({ a: 5 });
    expect(loadSeen({ getItem: () => "{broken" })).toEqual({});
  });
});

describe("shortcuts", () => {
  const key = (k: string, mods: Partial<KeyboardEvent> = {}) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, ...mods });
  test("letters act outside text fields only", () => {
    expect(shortcutFor(key("j"), { tagName: "BODY" })).toBe("next");
    expect(shortcutFor(key("k"), null)).toBe("prev");
    expect(shortcutFor(key("e"), { tagName: "DIV" })).toBe("resolve");
    expect(shortcutFor(key("?"), { tagName: "BUTTON" })).toBe("help");
    expect(shortcutFor(key("r"), { tagName: "TEXTAREA" })).toBeNull();
    expect(shortcutFor(key("n"), { tagName: "input" })).toBeNull();
    expect(shortcutFor(key("j"), { tagName: "DIV", isContentEditable: true })).toBeNull();
    expect(shortcutFor(key("r", { ctrlKey: true }), null)).toBeNull();
    expect(shortcutFor(key("Escape"), { tagName: "INPUT" })).toBe("escape");
    expect(shortcutFor(key("x"), null)).toBeNull();
  });
  test("j/k step through the list and stop at its ends", () => {
    expect(step(["a", "b", "c"], null, 1)).toBe("a");
    expect(step(["a", "b", "c"], "a", 1)).toBe("b");
    expect(step(["a", "b", "c"], "c", 1)).toBe("c");
    expect(step(["a", "b", "c"], "a", -1)).toBe("a");
    expect(step(["a", "b", "c"], "gone", -1)).toBe("a");
    expect(step([], "a", 1)).toBeNull();
  });
});

describe("canned replies", () => {
  const list = [
    { shortcut: "kargo", text: "Siparişiniz kargoya verildi." },
    { shortcut: "iade", text: "İade kodunuz e-postanızda." },
  ];
  test("open with / and match shortcut or text, Turkish-aware", () => {
    expect(matchCanned(list, "merhaba", "tr")).toBeNull();
    expect(matchCanned(list, "/", "tr")).toHaveLength(2);
    expect(matchCanned(list, "/karg", "tr")!.map((c) => c.shortcut)).toEqual(["kargo"]);
    expect(matchCanned(list, "/İADE", "tr")!.map((c) => c.shortcut)).toEqual(["iade"]);
    expect(matchCanned(list, "/e-posta", "tr")!.map((c) => c.shortcut)).toEqual(["iade"]);
    expect(matchCanned(list, "/kargo\nmore", "tr")).toBeNull();
  });
});

describe("safety helpers", () => {
  test("only http(s) and Kanal's own paths become links", () => {
    expect(safeURL("/api/v1/media/1")).toBe("/api/v1/media/1");
    expect(safeURL("https://example.com/a b.pdf")).toBe("https://example.com/a%20b.pdf");
    expect(safeURL("javascript:alert(1)")).toBeNull();
    expect(safeURL("data:text/html,<script>")).toBeNull();
    expect(safeURL("//evil.example.com/x")).toBeNull();
  });
  test("inline images only from Kanal's media, never SVG", () => {
    expect(inlineImage("/api/v1/media/1", "image/jpeg")).toBe(true);
    expect(inlineImage("https://cdn.example.com/a.jpg", "image/jpeg")).toBe(false);
    expect(inlineImage("/api/v1/media/1", "image/svg+xml")).toBe(false);
    expect(inlineImage("/api/v1/media/1", "application/pdf")).toBe(false);
  });
  test("HTML bodies become plain text without running anything", () => {
    expect(htmlToText("<p>Merhaba <b>Işık</b></p><script>alert(1)</script>")).toContain("Merhaba Işık");
    expect(htmlToText("")).toBe("");
  });
});

describe("routes and timeline", () => {
  test("paths round-trip", () => {
    for (const r of [
      { name: "inbox", conversationId: null },
      { name: "inbox", conversationId: "0198-ab" },
      { name: "timeline", customerId: "c 1" },
      { name: "admin", section: "teams" },
    ] as const) {
      expect(parseRoute(routePath(r))).toEqual(r);
    }
    expect(parseRoute("/admin")).toEqual({ name: "admin", section: "inboxes" });
    expect(parseRoute("/nope/x")).toEqual({ name: "inbox", conversationId: null });
  });
  test("timeline summaries are plain text", () => {
    expect(eventSummary(ev("message.created", msg("m", { text: "<b>hi</b>" })))).toBe("[api] <b>hi</b>");
    expect(eventSummary(ev("message.status_changed", { from: "queued", status: "failed", reason: "blocked" }))).toBe("queued → failed (blocked)");
    expect(eventSummary(ev("conversation.updated", { changes: { status: { from: "open", to: "resolved" }, assignee_id: { from: "", to: "u" } } }))).toBe(
      "status: open → resolved, assignee_id: — → u",
    );
  });
});
