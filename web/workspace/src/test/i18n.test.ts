import { describe, expect, test } from "vitest";
import { en } from "../i18n/en";
import { tr } from "../i18n/tr";
import { dictionaries, format, initialLocale } from "../i18n";
import { initials, lower, upper } from "../casing";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("dictionaries", () => {
  test("every key is in both languages, filled, with the same placeholders", () => {
    expect(Object.keys(tr).sort()).toEqual(Object.keys(en).sort());
    for (const [k, v] of Object.entries(en)) {
      const t = (tr as Record<string, string>)[k];
      expect(v.trim(), `en ${k}`).not.toBe("");
      expect(t.trim(), `tr ${k}`).not.toBe("");
      expect(placeholders(t), `placeholders of ${k}`).toEqual(placeholders(v));
    }
  });

  test("every key the code uses exists", () => {
    const src = join(__dirname, "..");
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) {
          if (f !== "test" && f !== "i18n") walk(p);
        } else if (/\.tsx?$/.test(f)) files.push(p);
      }
    };
    walk(src);
    const used = new Set<string>();
    for (const f of files) for (const m of readFileSync(f, "utf8").matchAll(/\bt\("([\w.]+)"/g)) used.add(m[1]);
    expect(used.size).toBeGreaterThan(100);
    const missing = [...used].filter((k) => !(k in en));
    expect(missing).toEqual([]);
  });

  test("keys built at run time exist too", () => {
    const dynamic = [
      ...["open", "pending", "snoozed", "resolved"].map((s) => `status.${s}`),
      ...["low", "normal", "high", "urgent"].map((s) => `priority.${s}`),
      ...["received", "queued", "sent", "delivered", "read", "failed"].map((s) => `tick.${s}`),
      ...["mine", "unassigned", "all"].map((s) => `view.${s}`),
      ...["connecting", "live", "offline"].map((s) => `live.${s}`),
      ...["agent", "supervisor", "admin", "owner"].map((s) => `role.${s}`),
      ...["inboxes", "teams", "users", "settings"].map((s) => `admin.${s}`),
      ...["in", "out", "internal"].map((s) => `message.dir.${s}`),
      ...["location", "template", "unsupported", "contacts", "interactive"].map((s) => `content.${s}`),
      ...["next", "prev", "reply", "note", "resolve", "help"].map((s) => `shortcuts.${s}`),
      ...["email", "phone", "whatsapp", "telegram", "messenger", "instagram", "web_visitor", "external_id"].map((s) => `identity.${s}`),
    ];
    for (const locale of ["tr", "en"] as const) {
      expect(dynamic.filter((k) => !(k in dictionaries[locale]))).toEqual([]);
    }
  });

  test("format fills placeholders and leaves unknown ones", () => {
    expect(format("{name} yazıyor…", { name: "Ayşe" })).toBe("Ayşe yazıyor…");
    expect(format("{a} {b}", { a: 1 })).toBe("1 {b}");
  });

  test("the starting language: stored choice, else the browser's", () => {
    expect(initialLocale("en", ["tr-TR"])).toBe("en");
    expect(initialLocale(null, ["tr-TR", "en-US"])).toBe("tr");
    expect(initialLocale(null, ["de-DE", "en-GB"])).toBe("en");
    expect(initialLocale(null, ["de-DE"])).toBe("en");
    expect(initialLocale("xx", ["TR"])).toBe("tr");
  });
});

describe("Turkish casing", () => {
  test("dotted and dotless i", () => {
    expect(upper("istanbul", "tr")).toBe("İSTANBUL");
    expect(upper("ılık", "tr")).toBe("ILIK");
    expect(upper("kimlikler", "tr")).toBe("KİMLİKLER");
    expect(upper("istanbul", "en")).toBe("ISTANBUL");
    expect(lower("İZMİR", "tr")).toBe("izmir");
    expect(lower("IŞIK", "tr")).toBe("ışık");
    expect(lower("ISTANBUL", "en")).toBe("istanbul");
  });

  test("initials", () => {
    expect(initials("ismail ışık", "tr")).toBe("İI");
    expect(initials("ismail ışık", "en")).toBe("II");
    expect(initials("  çağla  ", "tr")).toBe("Ç");
    expect(initials("", "tr")).toBe("?");
  });
});
