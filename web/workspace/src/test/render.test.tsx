import { afterEach, describe, expect, test } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { I18nProvider } from "../i18n";
import { MessageItem, Ticks } from "../components/MessageItem";
import { msg } from "./helpers";

afterEach(cleanup);

const members = new Map([["u1", "Ayşe Yıldız"]]);

describe("message rendering", () => {
  test("customer text, names and file names are text, never markup", () => {
    const { container } = render(
      <I18nProvider locale="en">
        <MessageItem
          m={msg("m1", {
            text: "<script>alert(2)</script>",
            html: "<img src=x onerror=alert(5)>",
            attachments: [{ url: "javascript:alert(6)", file_name: '"><svg onload=alert(3)>', content_type: "image/png", size: 10 }],
          })}
          customerName="<img src=x onerror=alert(1)>"
          memberName={members}
        />
      </I18nProvider>,
    );
    expect(screen.getByText("<script>alert(2)</script>")).toBeTruthy();
    expect(screen.getByText("<img src=x onerror=alert(1)>")).toBeTruthy();
    expect(screen.getByText('"><svg onload=alert(3)>')).toBeTruthy();
    expect(container.querySelector("script, svg, iframe, img")).toBeNull();
    expect(container.querySelector("a[href^='javascript']")).toBeNull();
  });

  test("an HTML-only body is shown as its text", () => {
    render(
      <I18nProvider locale="en">
        <MessageItem m={msg("m1", { text: "", html: "<p>Merhaba <b>dünya</b></p>" })} customerName="C" memberName={members} />
      </I18nProvider>,
    );
    expect(screen.getByText("Merhaba dünya")).toBeTruthy();
  });

  test("Kanal-held images are shown inline, other files as links", () => {
    const { container } = render(
      <I18nProvider locale="en">
        <MessageItem
          m={msg("m1", {
            attachments: [
              { url: "/api/v1/media/abc", file_name: "photo.jpg", content_type: "image/jpeg", size: 2048 },
              { url: "https://files.example.com/a.pdf", file_name: "a.pdf", content_type: "application/pdf", size: 10 },
            ],
          })}
          customerName="C"
          memberName={members}
        />
      </I18nProvider>,
    );
    expect(container.querySelector("img")!.getAttribute("src")).toBe("/api/v1/media/abc");
    expect(screen.getByRole("link", { name: /a\.pdf/ }).getAttribute("href")).toBe("https://files.example.com/a.pdf");
    expect(screen.getByRole("link", { name: /a\.pdf/ }).getAttribute("rel")).toContain("noopener");
  });

  test("template, location and unsupported content get a card with the raw payload collapsed", () => {
    const { container } = render(
      <I18nProvider locale="tr">
        <MessageItem
          m={msg("m1", { direction: "out", author_kind: "agent", author_id: "u1", status: "sent", content_type: "template", text: "siparis_kargo", raw: '{"name":"siparis_kargo","language":"tr","params":["1042","yarın"]}' })}
          customerName="C"
          memberName={members}
        />
        <MessageItem m={msg("m2", { content_type: "location", text: "", raw: '{"location":{"latitude":41.0082,"longitude":28.9784}}' })} customerName="C" memberName={members} />
        <MessageItem m={msg("m3", { content_type: "unsupported", text: "", raw: '{"type":"poll"}' })} customerName="C" memberName={members} />
      </I18nProvider>,
    );
    expect(screen.getByText("Şablon: siparis_kargo")).toBeTruthy();
    expect(screen.getByText("yarın")).toBeTruthy();
    expect(screen.getByText("Ayşe Yıldız")).toBeTruthy();
    expect(screen.getByRole("link", { name: "41.00820, 28.97840" })).toBeTruthy();
    expect(screen.getByText("Desteklenmeyen ileti")).toBeTruthy();
    const details = container.querySelectorAll("details");
    expect(details).toHaveLength(3);
    details.forEach((d) => expect(d.open).toBe(false));
  });

  test("delivery ticks say the status, and the reason of a failure on hover", () => {
    render(
      <I18nProvider locale="en">
        <Ticks status="failed" reason="outside the 24-hour window" />
        <Ticks status="read" reason="" />
      </I18nProvider>,
    );
    expect(screen.getByTitle("Failed: outside the 24-hour window")).toBeTruthy();
    expect(screen.getByTitle("Read")).toBeTruthy();
  });
});
