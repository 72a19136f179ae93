// The Kanal REST API as the workspace uses it (contract: api/openapi.yaml).
// The session is the kanal_session cookie set by POST /api/v1/auth/login;
// the app is served by Kanal itself, so every request is same-origin.

export type Millis = number;
export type Role = "agent" | "supervisor" | "admin" | "owner";
export type Permission =
  | "work"
  | "assign_others"
  | "read_events"
  | "manage_inboxes"
  | "manage_teams"
  | "manage_users"
  | "manage_jobs"
  | "manage_workspace";

export interface WorkspaceSettings {
  continuity: boolean;
  continuity_window_days: number;
  phone_region: string;
  locale: "tr" | "en";
}
export interface Workspace {
  id: string;
  slug: string;
  name: string;
  settings: WorkspaceSettings;
  created_at: Millis;
}
export interface Me {
  user: { id: string; email: string; name: string };
  workspace: Workspace;
  role: Role;
  permissions: Permission[];
}
export interface Member {
  id: string;
  email: string;
  name: string;
  locale: string;
  role: Role;
  joined_at: Millis;
}
export interface Team {
  id: string;
  name: string;
  member_ids: string[];
  created_at: Millis;
}
export interface Inbox {
  id: string;
  type: string;
  name: string;
  config: Record<string, unknown>;
  webhook_url?: string;
  setup_error?: string;
  secrets_set: string[];
  secrets?: Record<string, string>;
  created_at: Millis;
  updated_at: Millis;
}
export type IdentityKind =
  | "email"
  | "phone"
  | "whatsapp"
  | "telegram"
  | "messenger"
  | "instagram"
  | "web_visitor"
  | "external_id";
export interface Identity {
  id: string;
  kind: IdentityKind | string;
  value: string;
  normalized: string;
  created_at: Millis;
}
export interface Customer {
  id: string;
  workspace_id: string;
  name: string;
  email: string;
  phone: string;
  attributes: Record<string, unknown>;
  identities?: Identity[];
  created_at: Millis;
  updated_at: Millis;
}
export type ConversationStatus = "open" | "pending" | "snoozed" | "resolved";
export type Priority = "low" | "normal" | "high" | "urgent";
export interface Conversation {
  id: string;
  workspace_id: string;
  customer_id: string;
  inbox_id: string;
  channel: string;
  last_inbox_id: string;
  last_channel: string;
  status: ConversationStatus;
  priority: Priority;
  assignee_id: string | null;
  team_id: string | null;
  subject: string;
  labels: string[];
  snoozed_until: Millis | null;
  created_at: Millis;
  updated_at: Millis;
  last_activity_at: Millis;
  last_inbound_at: Millis | null;
  first_response_at: Millis | null;
  resolved_at: Millis | null;
}
export interface Attachment {
  url: string;
  file_name: string;
  content_type: string;
  size: number;
  ref?: string;
  sha256?: string;
}
export type MessageStatus = "received" | "queued" | "sent" | "delivered" | "read" | "failed";
export interface Message {
  id: string;
  workspace_id: string;
  conversation_id: string;
  customer_id: string;
  inbox_id: string;
  channel: string;
  kind: "message" | "note";
  direction: "in" | "out" | "internal";
  author_kind: "customer" | "agent" | "bot" | "system";
  author_id: string | null;
  text: string;
  html: string;
  attachments: Attachment[];
  provider_id: string | null;
  status: MessageStatus;
  status_reason: string;
  created_at: Millis;
  updated_at: Millis;
  content_type?: string;
  raw?: string;
}
export interface KanalEvent {
  workspace_id: string;
  seq: number;
  type: string;
  customer_id?: string;
  conversation_id?: string;
  actor_kind: string;
  actor_id?: string;
  data: unknown;
  created_at: Millis;
}
export interface Page<T> {
  items: T[];
  next_cursor: string;
}
export interface TimelinePage {
  items: KanalEvent[];
  next_before: number | null;
}
export interface Template {
  name: string;
  language?: string;
  params?: string[];
}
export interface ReplyCreate {
  text?: string;
  channel?: string;
  template?: Template;
}
export interface ConversationPatch {
  status?: ConversationStatus;
  snoozed_until?: Millis;
  priority?: Priority;
  assignee_id?: string | null;
  team_id?: string | null;
  labels?: string[];
  subject?: string;
}
export interface ConversationFilter {
  view: "mine" | "unassigned" | "all";
  status?: string;
  channel?: string;
  inbox?: string;
  team?: string;
  label?: string;
}

/** An error answer of the API: {"error":{"code","message","fields"}}. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Called when any request answers 401: the session is gone. */
let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(fn: () => void) {
  onUnauthenticated = fn;
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", e instanceof Error ? e.message : String(e));
  }
  if (res.status === 204) return undefined as T;
  let data: unknown = undefined;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; fields?: Record<string, string> } })?.error;
    const e = new ApiError(res.status, err?.code ?? "http_" + res.status, err?.message ?? res.statusText, err?.fields ?? {});
    // A 401 on any other call means the session ended (expired, revoked, logged out elsewhere).
    if (res.status === 401 && !path.startsWith("/api/v1/auth/") && path !== "/api/v1/me") onUnauthenticated();
    throw e;
  }
  return data as T;
}

function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") u.set(k, String(v));
  }
  const s = u.toString();
  return s ? "?" + s : "";
}

const enc = encodeURIComponent;

/** The query parameters of GET /api/v1/conversations for a filter. */
export function conversationQuery(f: ConversationFilter, cursor?: string, limit = 50) {
  return {
    assignee: f.view === "mine" ? "me" : f.view === "unassigned" ? "none" : undefined,
    status: f.status,
    channel: f.channel,
    inbox: f.inbox,
    team: f.team,
    label: f.label,
    cursor,
    limit,
  };
}

export const api = {
  me: () => request<Me>("GET", "/api/v1/me"),
  login: (email: string, password: string, workspace?: string) =>
    request<Me>("POST", "/api/v1/auth/login", workspace ? { email, password, workspace } : { email, password }),
  logout: () => request<void>("POST", "/api/v1/auth/logout"),
  setupNeeded: () => request<{ needed: boolean }>("GET", "/api/v1/setup"),
  setup: (body: { workspace: string; name: string; email: string; password: string }) =>
    request<Me>("POST", "/api/v1/setup", body),

  workspace: () => request<Workspace>("GET", "/api/v1/workspace"),
  patchWorkspace: (body: { name?: string; settings?: Partial<WorkspaceSettings> }) =>
    request<Workspace>("PATCH", "/api/v1/workspace", body),

  users: () => request<{ items: Member[] }>("GET", "/api/v1/users").then((r) => r.items),
  createUser: (body: { email: string; name?: string; password?: string; role: Role }) =>
    request<Member>("POST", "/api/v1/users", body),
  patchUser: (id: string, role: Role) => request<Member>("PATCH", `/api/v1/users/${enc(id)}`, { role }),
  deleteUser: (id: string) => request<void>("DELETE", `/api/v1/users/${enc(id)}`),

  teams: () => request<{ items: Team[] }>("GET", "/api/v1/teams").then((r) => r.items),
  createTeam: (body: { name: string; member_ids: string[] }) => request<Team>("POST", "/api/v1/teams", body),
  patchTeam: (id: string, body: { name?: string; member_ids?: string[] }) =>
    request<Team>("PATCH", `/api/v1/teams/${enc(id)}`, body),
  deleteTeam: (id: string) => request<void>("DELETE", `/api/v1/teams/${enc(id)}`),

  inboxes: () => request<{ items: Inbox[] }>("GET", "/api/v1/inboxes").then((r) => r.items),
  createInbox: (body: { type: string; name: string; config?: Record<string, unknown> }) =>
    request<Inbox>("POST", "/api/v1/inboxes", body),
  deleteInbox: (id: string) => request<void>("DELETE", `/api/v1/inboxes/${enc(id)}`),
  testInbox: (id: string) =>
    request<{ ok: boolean; account?: string; error?: string }>("POST", `/api/v1/inboxes/${enc(id)}/test`),
  widgetEmbed: (id: string) =>
    request<{ public_key: string; script_url: string; embed: string; identity_secret?: string }>(
      "GET",
      `/api/v1/inboxes/${enc(id)}/widget`,
    ),

  customers: (q: string, cursor?: string) =>
    request<Page<Customer>>("GET", "/api/v1/customers" + qs({ q, cursor, limit: 20 })),
  customer: (id: string) => request<Customer>("GET", `/api/v1/customers/${enc(id)}`),
  timeline: (id: string, before?: number) =>
    request<TimelinePage>("GET", `/api/v1/customers/${enc(id)}/timeline` + qs({ before, limit: 50 })),

  conversations: (f: ConversationFilter, cursor?: string) =>
    request<Page<Conversation>>("GET", "/api/v1/conversations" + qs(conversationQuery(f, cursor))),
  customerConversations: (customerId: string) =>
    request<Page<Conversation>>("GET", "/api/v1/conversations" + qs({ customer: customerId, limit: 20 })),
  conversation: (id: string) => request<Conversation>("GET", `/api/v1/conversations/${enc(id)}`),
  patchConversation: (id: string, body: ConversationPatch) =>
    request<Conversation>("PATCH", `/api/v1/conversations/${enc(id)}`, body),
  /** Every message of a conversation, oldest first (follows next_cursor). */
  messages: async (id: string) => {
    const out: Message[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await request<Page<Message>>(
        "GET",
        `/api/v1/conversations/${enc(id)}/messages` + qs({ cursor, limit: 200 }),
      );
      out.push(...page.items);
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    return out;
  },
  reply: (id: string, body: ReplyCreate) => request<Message>("POST", `/api/v1/conversations/${enc(id)}/messages`, body),
  note: (id: string, text: string) => request<Message>("POST", `/api/v1/conversations/${enc(id)}/notes`, { text }),
};
