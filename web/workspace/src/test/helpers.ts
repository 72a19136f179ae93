import type { Conversation, KanalEvent, Message } from "../api";

export function conv(id: string, over: Partial<Conversation> = {}): Conversation {
  return {
    id,
    workspace_id: "w",
    customer_id: "cu-" + id,
    inbox_id: "ib1",
    channel: "api",
    last_inbox_id: "ib1",
    last_channel: "api",
    status: "open",
    priority: "normal",
    assignee_id: null,
    team_id: null,
    subject: "",
    labels: [],
    snoozed_until: null,
    created_at: 1,
    updated_at: 1,
    last_activity_at: 100,
    last_inbound_at: 100,
    first_response_at: null,
    resolved_at: null,
    ...over,
  };
}

export function msg(id: string, over: Partial<Message> = {}): Message {
  return {
    id,
    workspace_id: "w",
    conversation_id: "c1",
    customer_id: "cu",
    inbox_id: "ib1",
    channel: "api",
    kind: "message",
    direction: "in",
    author_kind: "customer",
    author_id: "cu",
    text: "t",
    html: "",
    attachments: [],
    provider_id: null,
    status: "received",
    status_reason: "",
    created_at: 10,
    updated_at: 10,
    ...over,
  };
}

export function ev(type: string, data: unknown, over: Partial<KanalEvent> = {}): KanalEvent {
  return { workspace_id: "w", seq: 1, type, actor_kind: "system", data, created_at: 1000, ...over };
}

