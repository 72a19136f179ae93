import { useI18n, type MessageKey } from "../i18n";
import { SHORTCUTS } from "../shortcuts";
import { Modal } from "./common";

export function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  return (
    <Modal title={t("shortcuts.title")} onClose={onClose}>
      <dl className="shortcuts" data-testid="shortcuts-help">
        {SHORTCUTS.map((s) => (
          <div key={s.key}>
            <dt>
              <kbd>{s.key}</kbd>
            </dt>
            <dd>{t(`shortcuts.${s.action}` as MessageKey)}</dd>
          </div>
        ))}
      </dl>
    </Modal>
  );
}
