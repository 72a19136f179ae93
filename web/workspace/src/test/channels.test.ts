import { describe, expect, test } from "vitest";
import { channelParam, replyChannels } from "../channels";

const inbox = (id: string, type: string) => ({ id, type });

describe("reply channel picker", () => {
  test("the conversation's own channel first, then the others that reach the customer", () => {
    const opts = replyChannels(
      { last_channel: "whatsapp", last_inbox_id: "wa1" },
      [{ kind: "whatsapp" }, { kind: "email" }],
      [inbox("wa1", "whatsapp"), inbox("tg1", "telegram"), inbox("api1", "api"), inbox("sms1", "twilio")],
    );
    expect(opts).toEqual([
      { channel: "whatsapp", current: true },
      { channel: "api", current: false }, // api inboxes reach anyone
      { channel: "twilio", current: false }, // SMS via Twilio reaches WhatsApp/phone identities
    ]);
    expect(opts.map((o) => o.channel)).not.toContain("telegram"); // no Telegram identity
  });

  test("a customer with a phone can be answered on WhatsApp from an api conversation", () => {
    const opts = replyChannels({ last_channel: "api", last_inbox_id: "api1" }, [{ kind: "phone" }, { kind: "external_id" }], [
      inbox("api1", "api"),
      inbox("wa1", "whatsapp"),
      inbox("wa2", "whatsapp"),
      inbox("ms1", "messenger"),
    ]);
    expect(opts).toEqual([
      { channel: "api", current: true },
      { channel: "whatsapp", current: false },
    ]);
  });

  test("when the conversation's inbox was deleted, only other channels are offered", () => {
    const opts = replyChannels({ last_channel: "telegram", last_inbox_id: "gone" }, [{ kind: "telegram" }], [inbox("tg2", "telegram")]);
    expect(opts).toEqual([{ channel: "telegram", current: false }]);
    expect(channelParam(opts[0])).toBe("telegram");
  });

  test("unknown channel types are offered only as the conversation's own", () => {
    expect(replyChannels({ last_channel: "fax", last_inbox_id: "f1" }, [], [inbox("f1", "fax"), inbox("f2", "pager")])).toEqual([
      { channel: "fax", current: true },
    ]);
    expect(replyChannels({ last_channel: "x", last_inbox_id: "none" }, [], [])).toEqual([]);
  });

  test("the own channel is sent without a channel field", () => {
    expect(channelParam({ channel: "api", current: true })).toBeUndefined();
    expect(channelParam(undefined)).toBeUndefined();
  });
});
