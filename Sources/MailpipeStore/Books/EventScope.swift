import MailpipeCore

/// Whose is an event read from a source several tenants share — one PowerMTA accounting file for
/// every tenant of an MTA, the webhooks of one MailWizz install? The first rule that can tell
/// decides (docs/account.md, "Events of a shared source"):
/// 1. its **vmta**: one the tenant lists (tenant.json `vmtas`) → the tenant's; one another tenant
///    of the state folder lists, or any other when the tenant lists vmtas → not the tenant's;
/// 2. its MailWizz **list**: one of the tenant's (`mailwizz.list_uid`, `language_lists`) → the
///    tenant's; another → not;
/// 3. its **campaign** (PowerMTA `X-Job`): one the tenant has sent (the ledger) → the tenant's;
///    an unknown campaign tells nothing (it may be a MailWizz campaign);
/// 4. its **recipient**: a contact of the tenant → the tenant's; else not.
/// Another tenant's events are counted (`other_tenant`) and never written.
public struct EventScope: Sendable {
    public enum Evidence: String, Sendable, CaseIterable {
        case vmta, list, campaign, contact
    }

    public enum Verdict: Equatable, Sendable {
        case ours(Evidence)
        case other(Evidence)
    }

    let vmtas: Set<String>
    let otherVmtas: Set<String>
    let lists: Set<String>
    let campaigns: Set<String>

    public init(vmtas: Set<String>, otherVmtas: Set<String> = [], lists: Set<String>, campaigns: Set<String>) {
        self.vmtas = vmtas
        self.otherVmtas = otherVmtas.subtracting(vmtas)
        self.lists = lists
        self.campaigns = campaigns
    }

    /// The tenant's scope: its vmtas and lists (tenant.json), the campaigns it sent (ledger), and
    /// the vmtas the other tenants of the state folder list.
    public init(config: TenantConfig, ledger: Ledger, otherVmtas: Set<String>) {
        self.init(vmtas: Set(config.vmtas.map(\.name)), otherVmtas: otherVmtas, lists: Set(config.mailwizz?.lists ?? []),
                  campaigns: Set(ledger.campaigns.compactMap { ($0.value["sent"] ?? 0) > 0 ? $0.key : nil }))
    }

    /// The verdict of the event's own fields (rules 1–3), or nil when only its recipient can tell.
    public func verdict(vmta: String?, list eventList: String?, campaign: String?) -> Verdict? {
        if let vmta, !vmta.isEmpty {
            if vmtas.contains(vmta) { return .ours(.vmta) }
            if otherVmtas.contains(vmta) || !vmtas.isEmpty { return .other(.vmta) }
        }
        if let eventList, !eventList.isEmpty, !lists.isEmpty {
            return lists.contains(eventList) ? .ours(.list) : .other(.list)
        }
        if let campaign, campaigns.contains(campaign) { return .ours(.campaign) }
        return nil
    }

    /// Rule 4, for an event its fields left undecided.
    public static func verdict(isContact: Bool) -> Verdict { isContact ? .ours(.contact) : .other(.contact) }
}
