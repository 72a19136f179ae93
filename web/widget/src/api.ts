// The widget's calls to Kanal (docs/widget.md): REST under /widget/{key}/
// and the visitor socket. The page is served by Kanal, so every call is
// same-origin.

export interface Texts {
  tr?: string;
  en?: string;
}

export interface Config {
  name: string;
  color: string;
  greeting: Texts;
  offline_message: Texts;
  pre_chat: "none" | "name_email";
  online: boolean;
  max_file_mb: number;
  file_types: string[];
  max_text_bytes: number;
}

export interface Attachment {
  url: string;
  file_name: string;
  content_type: string;
  size: number;
}

export interface Msg {
  id: string;
  client_id?: string;
  author: "visitor" | "agent" | "bot" | "system";
  text: string;
  attachments: Attachment[];
  created_at: number;
  status: string;
  /** The widget's own state of a message it sends. */
  local?: "sending" | "retrying" | "failed";
  error?: string;
}

export interface Visitor {
  id: string;
  name: string;
  email: string;
}

export interface Session {
  token: string;
  visitor: Visitor;
  identified: boolean;
}

export interface Identity {
  user_id: string;
  email?: string;
  name?: string;
  hmac: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public retryAfter = 0,
  ) {
    super(message);
  }
}

export class Api {
  token = "";
  constructor(public key: string) {}

  base(): string {
    return `/widget/${encodeURIComponent(this.key)}`;
  }

  async call<T>(method: string, path: string, body?: unknown, form?: FormData): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.base() + path, { method, headers, body: form ?? (body !== undefined ? JSON.stringify(body) : undefined) });
    } catch {
      throw new ApiError(0, "network", "network error");
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = (data && data.error) || {};
      throw new ApiError(res.status, e.code || "error", e.message || res.statusText, Number(res.headers.get("Retry-After")) || 0);
    }
    return data as T;
  }

  config(): Promise<Config> {
    return this.call("GET", "/config");
  }

  session(identity?: Identity): Promise<Session> {
    return this.call("POST", "/session", { identity: identity ?? null });
  }

  history(before = ""): Promise<{ items: Msg[]; next_before: string }> {
    return this.call("GET", `/messages?limit=50${before ? "&before=" + encodeURIComponent(before) : ""}`);
  }

  send(text: string, clientID: string): Promise<{ message: Msg }> {
    return this.call("POST", "/messages", { text, client_id: clientID });
  }

  attach(file: File, clientID: string): Promise<{ message: Msg }> {
    const f = new FormData();
    f.append("client_id", clientID);
    f.append("file", file, file.name);
    return this.call("POST", "/attachments", undefined, f);
  }

  contact(name: string, email: string): Promise<{ visitor: Visitor }> {
    return this.call("POST", "/contact", { name, email });
  }

  /** A Kanal-held file as an object URL (the media route needs the token). */
  async blob(url: string): Promise<string> {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new ApiError(res.status, "media", res.statusText);
    return URL.createObjectURL(await res.blob());
  }
}

export type Frame =
  | { type: "hello"; visitor_id: string; last_seq: number; after?: number; reset?: boolean; online: boolean }
  | { type: "message"; seq: number; message: Msg }
  | { type: "seen"; seq: number; message_id: string; read_at: number }
  | { type: "typing"; typing: boolean }
  | { type: "availability"; online: boolean }
  | { type: "error"; code: string; message: string }
  | { type: "resync" };

/**
 * The visitor socket: resumes with ?after=<last seq>, reconnects with
 * back-off (1 s doubling to 30 s, with jitter), gives up after 1008.
 */
export class Live {
  private ws: WebSocket | null = null;
  private stopped = false;
  private attempt = 0;
  private timer = 0;
  cursor: number | null = null;

  constructor(
    private api: Api,
    private onFrame: (f: Frame, first: boolean) => void,
    private onStatus: (up: boolean) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
    this.ws = null;
  }

  send(frame: object): void {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(frame));
  }

  private connect(): void {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = this.cursor === null ? "" : `?after=${this.cursor}`;
    let first = this.cursor === null;
    const ws = new WebSocket(`${proto}//${location.host}${this.api.base()}/ws${q}`, ["kanal.widget.v1", "kanal.token." + this.api.token]);
    this.ws = ws;
    ws.onmessage = (e) => {
      let f: Frame;
      try {
        f = JSON.parse(String(e.data));
      } catch {
        return;
      }
      if (f.type === "hello") {
        this.attempt = 0;
        this.onStatus(true);
        if (f.reset || this.cursor === null) {
          this.cursor = f.last_seq;
          first = true;
        }
      } else if ("seq" in f && typeof f.seq === "number" && (this.cursor === null || f.seq > this.cursor)) {
        this.cursor = f.seq;
      }
      this.onFrame(f, first);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onStatus(false);
      if (this.stopped || e.code === 1008) return;
      const fast = e.code === 4000 || e.code === 1013;
      const wait = fast ? 200 : Math.min(30000, 1000 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt++;
      this.timer = window.setTimeout(() => this.connect(), wait);
    };
  }
}
