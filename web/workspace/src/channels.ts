// Which channels an agent can reply on, from the customer's identities and
// the workspace's inboxes. It mirrors the server's choice (POST .../messages
// with "channel"): the conversation's last channel always, any other channel
// of which the workspace has an inbox and that can reach one of the
// customer's identities. api inboxes reach anyone (the integrator's system
// delivers).

import type { Conversation, Identity, Inbox } from "./api";

/** Identity kinds each channel can send to. Missing: unknown channel, offered only as the last channel. */
export const CHANNEL_REACH: Record<string, string[] | "anyone"> = {
  api: "anyone",
  whatsapp: ["whatsapp", "phone"],
  twilio: ["phone", "whatsapp"],
  netgsm: ["phone"],
  sms: ["phone"],
  telegram: ["telegram"],
  messenger: ["messenger"],
  instagram: ["instagram"],
  email: ["email"],
  webchat: ["web_visitor"],
};

export interface ChannelOption {
  channel: string;
  /** The conversation's own channel: the default, sent without "channel". */
  current: boolean;
}

export function replyChannels(
  conv: Pick<Conversation, "last_channel" | "last_inbox_id">,
  identities: Pick<Identity, "kind">[],
  inboxes: Pick<Inbox, "id" | "type">[],
): ChannelOption[] {
  const out: ChannelOption[] = [];
  const seen = new Set<string>();
  const kinds = new Set(identities.map((i) => i.kind));
  if (inboxes.some((ib) => ib.id === conv.last_inbox_id)) {
    out.push({ channel: conv.last_channel, current: true });
    seen.add(conv.last_channel);
  }
  const types = [...new Set(inboxes.map((ib) => ib.type))].sort();
  for (const type of types) {
    if (seen.has(type)) continue;
    const reach = CHANNEL_REACH[type];
    if (!reach) continue;
    if (reach === "anyone" || reach.some((k) => kinds.has(k))) {
      out.push({ channel: type, current: false });
      seen.add(type);
    }
  }
  return out;
}

/** The body's "channel" for a picked option: left out for the conversation's own channel. */
export function channelParam(opt: ChannelOption | undefined): string | undefined {
  return opt && !opt.current ? opt.channel : undefined;
}
