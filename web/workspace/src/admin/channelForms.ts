// The inbox creation forms: the fields of each channel type (docs/channels/*.md,
// docs/widget.md) and how a filled form becomes the "config" of
// POST /api/v1/inboxes. Secrets go in "config" as flat keys too; the server
// keeps them apart, encrypted, and never shows them back. Empty optional
// fields are left out: the server refuses keys it does not know and fills its
// own defaults (a generated verify_token, the public API address…).

export type FieldKind = "text" | "secret" | "url" | "number" | "check" | "select" | "list";

export interface FieldSpec {
  /** The config key; a dot makes a nested object ("imap.host" → {imap: {host}}). */
  key: string;
  kind: FieldKind;
  required?: boolean;
  /** Shown only under "Advanced". */
  advanced?: boolean;
  options?: string[];
  /** The starting value of a checkbox or a select. */
  def?: boolean | string;
  placeholder?: string;
  /** Shown only when this other checkbox is on. */
  when?: string;
}

export type FormValues = Record<string, string | boolean>;

const metaSecrets: FieldSpec[] = [
  { key: "access_token", kind: "secret", required: true },
  { key: "app_secret", kind: "secret", required: true },
  { key: "verify_token", kind: "secret" },
];
const graph = (advanced = true): FieldSpec => ({ key: "api_base_url", kind: "url", advanced, placeholder: "https://graph.facebook.com/v21.0" });

export const CHANNEL_FIELDS: Record<string, FieldSpec[]> = {
  api: [{ key: "callback_url", kind: "url", placeholder: "https://example.com/kanal/replies" }],
  whatsapp: [
    { key: "phone_number_id", kind: "text", required: true, placeholder: "106540352242922" },
    ...metaSecrets,
    { key: "waba_id", kind: "text" },
    graph(),
  ],
  messenger: [{ key: "page_id", kind: "text", required: true }, ...metaSecrets, graph()],
  instagram: [
    { key: "instagram_id", kind: "text", required: true },
    { key: "page_id", kind: "text" },
    ...metaSecrets,
    graph(false),
  ],
  telegram: [
    { key: "bot_token", kind: "secret", required: true, placeholder: "123456789:AAH…" },
    { key: "set_webhook", kind: "check", def: true },
    { key: "secret_token", kind: "secret", advanced: true },
    { key: "api_base_url", kind: "url", advanced: true, placeholder: "https://api.telegram.org" },
  ],
  twilio: [
    { key: "account_sid", kind: "text", required: true, placeholder: "AC…" },
    { key: "auth_token", kind: "secret", required: true },
    { key: "from", kind: "text", required: true, placeholder: "+905321234567" },
    { key: "api_base_url", kind: "url", advanced: true, placeholder: "https://api.twilio.com" },
  ],
  netgsm: [
    { key: "usercode", kind: "text", required: true },
    { key: "password", kind: "secret", required: true },
    { key: "msgheader", kind: "text", required: true },
    { key: "commercial", kind: "check", def: false },
    { key: "iys_recipient_type", kind: "select", options: ["individual", "merchant"], def: "individual", when: "commercial" },
    { key: "api_base_url", kind: "url", advanced: true, placeholder: "https://api.netgsm.com.tr" },
  ],
  email: [
    { key: "address", kind: "text", required: true, placeholder: "destek@example.com" },
    { key: "imap.host", kind: "text", placeholder: "imap.example.com" },
    { key: "imap.port", kind: "number", placeholder: "993" },
    { key: "imap.tls", kind: "select", options: ["", "tls", "starttls", "none"], def: "" },
    { key: "imap.username", kind: "text" },
    { key: "imap_password", kind: "secret" },
    { key: "imap.folder", kind: "text", placeholder: "INBOX" },
    { key: "smtp.host", kind: "text", placeholder: "smtp.example.com" },
    { key: "smtp.port", kind: "number", placeholder: "587" },
    { key: "smtp.tls", kind: "select", options: ["", "starttls", "tls", "none"], def: "" },
    { key: "smtp.username", kind: "text" },
    { key: "smtp_password", kind: "secret" },
    { key: "dkim.selector", kind: "text", advanced: true, placeholder: "kanal" },
    { key: "dkim.domain", kind: "text", advanced: true },
  ],
  webchat: [
    { key: "allowed_origins", kind: "list", placeholder: "https://www.example.com" },
    { key: "pre_chat", kind: "select", options: ["none", "name_email"], def: "none" },
    { key: "greeting.tr", kind: "text" },
    { key: "greeting.en", kind: "text" },
    { key: "offline_message.tr", kind: "text" },
    { key: "offline_message.en", kind: "text" },
  ],
};

export const CHANNEL_TYPES = Object.keys(CHANNEL_FIELDS);

/** The starting values of a type's form. */
export function initialValues(type: string): FormValues {
  const v: FormValues = {};
  for (const f of CHANNEL_FIELDS[type] ?? []) v[f.key] = f.def ?? (f.kind === "check" ? false : "");
  return v;
}

/** Whether a field is part of the form given the other values. */
export function isShown(f: FieldSpec, v: FormValues): boolean {
  return !f.when || v[f.when] === true;
}

/** The "config" of POST /api/v1/inboxes for a filled form; undefined when empty. */
export function toConfig(type: string, values: FormValues): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const f of CHANNEL_FIELDS[type] ?? []) {
    if (!isShown(f, values)) continue;
    const raw = values[f.key] ?? f.def;
    let val: unknown;
    if (f.kind === "check") val = raw === true;
    else {
      const s = typeof raw === "string" ? (f.kind === "secret" ? raw : raw.trim()) : "";
      if (f.kind === "secret" ? s.trim() === "" : s === "") continue;
      if (f.kind === "number") val = /^\d+$/.test(s) ? Number(s) : s;
      else if (f.kind === "list") {
        const items = s.split(/[\s,]+/).filter(Boolean);
        if (items.length === 0) continue;
        val = items;
      } else val = s;
    }
    const path = f.key.split(".");
    let obj = out;
    for (const p of path.slice(0, -1)) obj = (obj[p] ??= {}) as Record<string, unknown>;
    obj[path[path.length - 1]] = val;
  }
  return Object.keys(out).length ? out : undefined;
}

/** The field error of a form field in a 400 answer's fields ("config.<key>"). */
export function fieldError(fields: Record<string, string> | undefined, key: string): string | undefined {
  return fields?.["config." + key];
}

/** The fields of a 400 answer that no form field shows. */
export function otherFieldErrors(type: string, fields: Record<string, string>): Record<string, string> {
  const shown = new Set(["name", ...(CHANNEL_FIELDS[type] ?? []).map((f) => "config." + f.key)]);
  return Object.fromEntries(Object.entries(fields).filter(([k]) => !shown.has(k)));
}
