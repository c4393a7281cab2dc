//! Backups: list the backup volumes of a storage, back up a guest now (vzdump), restore a
//! backup — to a new VMID by default.
//!
//! A backup adds a volume and, in `snapshot` mode, interrupts nothing: no confirmation. In
//! `suspend` or `stop` mode it interrupts the guest: it asks, and is refused for protected
//! guests. A restore to a new VMID adds a guest: no confirmation. A restore over an existing
//! guest (`overwrite`) replaces it: it asks, and is refused for protected guests.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::{
    CallCtx, ChangeReport, Confirm, Effect, Gate, Page, Plan, PlannedChange, ToolDef, ToolError,
    ToolSpec,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::guard::{self, Target};
use super::jobs::{self, Job};
use super::{node, paging, vmid};
use crate::Proxmox;
use crate::client::PveError;
use crate::client::calls::Vzdump;
use crate::client::model::{BackupVolume, GuestKind};

const LIST_BACKUPS: ToolSpec = ToolSpec {
    name: "list_backups",
    title: "Backups on a storage",
    description: "List the backup volumes on a storage (every node that has it, or one node): volid, guest VMID, time, size, notes and protection; filter by VMID. Paged. Use list_storage to find storages that hold backups.",
    scope: "proxmox:read",
    toolset: "backups",
    effect: Effect::ReadOnly,
    open_world: true,
};

const BACKUP_GUEST: ToolSpec = ToolSpec {
    name: "backup_guest",
    title: "Back up a guest",
    description: "Back up a VM or container now (vzdump) to a storage, with mode snapshot (default, no interruption), suspend or stop, compression and an optional protected flag and notes. Returns the task UPID; wait_seconds waits for it. suspend and stop ask for confirmation and are refused for protected guests.",
    scope: "proxmox:backup",
    toolset: "backups",
    effect: Effect::AdditiveWrite,
    open_world: true,
};

const RESTORE_BACKUP: ToolSpec = ToolSpec {
    name: "restore_backup",
    title: "Restore a backup",
    description: "Restore a backup volume (volid from list_backups) as a new guest: the next free VMID, or vmid if it is free. overwrite=true replaces the existing guest vmid (it must be stopped): this asks for confirmation and is refused for protected guests. Returns the task UPID; wait_seconds waits for it.",
    scope: "proxmox:backup",
    toolset: "backups",
    effect: Effect::Destructive { idempotent: false },
    open_world: true,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// The storage id, e.g. `local`.
    pub storage: String,
    /// Only this node's view of the storage; every online node when omitted.
    pub node: Option<String>,
    /// Only backups of this VMID.
    pub vmid: Option<i64>,
    /// Page size, 1-500; default 100.
    pub limit: Option<u32>,
    /// Items to skip; default 0.
    pub offset: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Live backup, no interruption.
    #[default]
    Snapshot,
    /// Suspends the guest for the backup.
    Suspend,
    /// Stops the guest for the backup and starts it again.
    Stop,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::Suspend => "suspend",
            Self::Stop => "stop",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compress {
    None,
    Gzip,
    Lzo,
    #[default]
    Zstd,
}

impl Compress {
    fn as_param(self) -> &'static str {
        match self {
            Self::None => "0",
            Self::Gzip => "gzip",
            Self::Lzo => "lzo",
            Self::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupInput {
    /// VMID, 100-999999999.
    pub vmid: i64,
    /// The backup storage (one whose content includes `backup`; see list_storage); PVE's default when omitted.
    pub storage: Option<String>,
    /// `snapshot` (default), `suspend` or `stop`.
    #[serde(default)]
    pub mode: Mode,
    /// `none`, `gzip`, `lzo` or `zstd` (default).
    #[serde(default)]
    pub compress: Compress,
    /// Mark the backup protected (not pruned or removed).
    #[serde(default)]
    pub protected: bool,
    /// Notes for the backup, at most 1024 characters; PVE expands {{guestname}}, {{vmid}}, {{node}} and {{cluster}}.
    pub notes: Option<String>,
    /// Node; found from the cluster when omitted (refused when it disagrees).
    pub node: Option<String>,
    /// Wait up to this many seconds for the task to end (0-600; default 0).
    pub wait_seconds: Option<u32>,
    /// Show the plan without asking or acting.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    /// The backup volume, as list_backups reports it (e.g. `local:backup/vzdump-lxc-200-2026_01_01-00_00_00.tar.zst`).
    pub volid: String,
    /// The VMID to restore as; the next free VMID when omitted.
    pub vmid: Option<i64>,
    /// Replace the existing guest `vmid` (stopped, not protected). Asks for confirmation.
    #[serde(default)]
    pub overwrite: bool,
    /// The storage for the restored disks; PVE's default when omitted.
    pub storage: Option<String>,
    /// The node to restore on; when omitted, the node of the backed-up guest (or of `vmid` with overwrite).
    pub node: Option<String>,
    /// Wait up to this many seconds for the task to end (0-600; default 0).
    pub wait_seconds: Option<u32>,
    /// Show the plan without asking or acting.
    #[serde(default)]
    pub dry_run: bool,
}

/// A backup volume and the node it was listed from.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BackupItem {
    /// The node whose view of the storage lists it.
    pub node: String,
    /// The volume, every field as PVE gives it.
    #[serde(flatten)]
    pub volume: BackupVolume,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BackupOutput {
    /// The VMID.
    pub vmid: u32,
    /// The node the guest is on.
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: GuestKind,
    /// The task started, and with wait_seconds how it ended.
    #[serde(flatten)]
    pub job: Job,
    /// What was done (or would be, or waits for approval) and how it was confirmed.
    pub change: ChangeReport,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RestoreOutput {
    /// The VMID restored as.
    pub vmid: u32,
    /// The node restored on.
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: GuestKind,
    /// The backup volume.
    pub volid: String,
    /// Whether an existing guest is replaced.
    pub overwrite: bool,
    /// The task started, and with wait_seconds how it ended.
    #[serde(flatten)]
    pub job: Job,
    /// What was done (or would be, or waits for approval) and how it was confirmed.
    pub change: ChangeReport,
}

pub fn tools() -> Vec<ToolDef<Proxmox>> {
    vec![
        ToolDef::new(LIST_BACKUPS, list_backups),
        ToolDef::new(BACKUP_GUEST, backup_guest).confirm(Confirm::When {
            when: |args| {
                matches!(
                    args.get("mode").and_then(serde_json::Value::as_str),
                    Some("stop" | "suspend")
                )
            },
            doc: "when `mode` is suspend or stop",
        }),
        ToolDef::new(RESTORE_BACKUP, restore_backup).confirm(Confirm::When {
            when: |args| {
                args.get("overwrite")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false)
            },
            doc: "when `overwrite` is true",
        }),
    ]
}

async fn list_backups(
    s: Arc<Proxmox>,
    _c: CallCtx,
    i: ListInput,
) -> Result<Page<BackupItem>, ToolError> {
    let st = guard::storage("storage", &i.storage)?;
    let only = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    let id = i.vmid.map(vmid).transpose()?;
    let paging = paging(i.limit, i.offset)?;
    let nodes: Vec<String> = match only {
        Some(n) => vec![n],
        None => s
            .api
            .nodes()
            .await?
            .into_iter()
            .filter(|n| n.status.as_deref() == Some("online"))
            .map(|n| n.node)
            .collect(),
    };
    let mut items: Vec<BackupItem> = Vec::new();
    let mut first_err: Option<PveError> = None;
    let mut answered = 0;
    for n in &nodes {
        match s.api.backups(n, &st, id).await {
            Ok(vols) => {
                answered += 1;
                for v in vols {
                    if !items.iter().any(|x| x.volume.volid == v.volid) {
                        items.push(BackupItem {
                            node: n.clone(),
                            volume: v,
                        });
                    }
                }
            }
            // One node without this storage is not an error of the others.
            Err(e @ PveError::Refused { .. }) if nodes.len() > 1 => {
                first_err.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if answered == 0
        && let Some(e) = first_err
    {
        return Err(e.into());
    }
    items.sort_by(|a, b| {
        let t = |x: &BackupItem| x.volume.ctime.as_ref().and_then(serde_json::Number::as_u64);
        t(b).cmp(&t(a))
            .then_with(|| a.volume.volid.cmp(&b.volume.volid))
    });
    Ok(Page::of(items, paging))
}

async fn backup_guest(
    s: Arc<Proxmox>,
    ctx: CallCtx,
    i: BackupInput,
) -> Result<BackupOutput, ToolError> {
    let id = vmid(i.vmid)?;
    let st = i
        .storage
        .as_deref()
        .map(|v| guard::storage("storage", v))
        .transpose()?;
    let notes = i
        .notes
        .as_deref()
        .map(|n| guard::text("notes", n, 1024))
        .transpose()?;
    let wait = guard::wait_seconds(i.wait_seconds)?;
    let given = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    guard::lists(&s, id)?;
    let t = guard::locate(&s, id, given.as_deref()).await?;
    if i.mode != Mode::Snapshot {
        guard::destructive(
            &s,
            &t,
            &format!("backup_guest with mode {}", i.mode.as_str()),
        )
        .await?;
    }
    let plan = Plan::new(
        BACKUP_GUEST.name,
        format!("{} {id} on node {}", t.kind, t.node),
        format!(
            "back up {} {id} to {} (mode {})",
            t.kind,
            st.as_deref().unwrap_or("the default storage"),
            i.mode.as_str()
        ),
        vec![
            PlannedChange::new("create", "backup", id.to_string()).after(serde_json::json!({
                "storage": st,
                "mode": i.mode.as_str(),
                "compress": i.compress.as_param(),
                "protected": i.protected,
                "notes": notes,
            })),
        ],
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    let mut out = BackupOutput {
        vmid: id,
        node: t.node.clone(),
        kind: t.kind,
        job: Job::default(),
        change: ChangeReport::from_gate(plan, &gate),
    };
    if !matches!(gate, Gate::Proceed(_)) {
        return Ok(out);
    }
    let upid = s
        .api
        .vzdump(
            &t.node,
            Vzdump {
                vmid: id,
                storage: st.as_deref(),
                mode: i.mode.as_str(),
                compress: i.compress.as_param(),
                protected: i.protected,
                notes: notes.as_deref(),
            },
        )
        .await?;
    tracing::info!(vmid = id, node = %t.node, upid = %upid, "backup started");
    out.job = jobs::follow(&s, &ctx, &t.node, upid, Duration::from_secs(wait.into())).await?;
    Ok(out)
}

async fn restore_backup(
    s: Arc<Proxmox>,
    ctx: CallCtx,
    i: RestoreInput,
) -> Result<RestoreOutput, ToolError> {
    let vol = guard::volid(&i.volid)?;
    let target = i.vmid.map(vmid).transpose()?;
    let st = i
        .storage
        .as_deref()
        .map(|v| guard::storage("storage", v))
        .transpose()?;
    let given = i.node.as_deref().map(|n| node("node", n)).transpose()?;
    let wait = guard::wait_seconds(i.wait_seconds)?;
    if i.overwrite && target.is_none() {
        return Err(ToolError::invalid(
            "overwrite",
            "needs vmid: the guest to replace. Omit overwrite to restore to a new VMID",
        ));
    }
    if let Some(id) = target {
        guard::lists(&s, id)?;
    }
    let guests = s.api.guests().await?;
    let existing = target.and_then(|id| guests.iter().find(|g| g.vmid == id));
    let (node_name, overwrite) = match (existing, target) {
        (Some(g), Some(id)) => {
            if !i.overwrite {
                return Err(ToolError::invalid(
                    "vmid",
                    format!(
                        "VMID {id} exists ({} on node {}); omit vmid to restore to a new VMID, or set overwrite=true to replace it (asks for confirmation)",
                        g.kind, g.node
                    ),
                ));
            }
            if g.kind != vol.kind {
                return Err(ToolError::invalid(
                    "vmid",
                    format!(
                        "VMID {id} is a {} guest and the backup is of a {} guest",
                        g.kind, vol.kind
                    ),
                ));
            }
            if let Some(want) = &given
                && *want != g.node
            {
                return Err(ToolError::invalid(
                    "node",
                    format!("VM {id} is on node {}, not {want}", g.node),
                ));
            }
            let t = Target {
                vmid: id,
                node: g.node.clone(),
                kind: g.kind,
                tags: g
                    .other
                    .get("tags")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string),
            };
            guard::destructive(&s, &t, "restore_backup over an existing guest").await?;
            (g.node.clone(), true)
        }
        _ => {
            let n = match given {
                Some(n) => n,
                None => guests
                    .iter()
                    .find(|g| g.vmid == vol.vmid)
                    .map(|g| g.node.clone())
                    .ok_or_else(|| {
                        ToolError::invalid(
                            "node",
                            format!(
                                "is needed: guest {} of this backup is no longer in the cluster; name the node whose storage `{}` holds the backup",
                                vol.vmid, vol.storage
                            ),
                        )
                    })?,
            };
            (n, false)
        }
    };
    let id = match target {
        Some(id) => id,
        None => {
            let id = s.api.next_id().await?;
            guard::lists(&s, id)?;
            id
        }
    };
    let action = if overwrite { "overwrite" } else { "create" };
    let plan = Plan::new(
        RESTORE_BACKUP.name,
        format!("node {node_name}"),
        if overwrite {
            format!("replace {} {id} with the backup {}", vol.kind, vol.text)
        } else {
            format!("restore {} as new {} {id}", vol.text, vol.kind)
        },
        vec![
            PlannedChange::new(action, vol.kind.as_str(), id.to_string()).after(
                serde_json::json!({
                    "volid": vol.text,
                    "storage": st,
                }),
            ),
        ],
    );
    let gate = ctx.gate(&plan, i.dry_run).await?;
    let mut out = RestoreOutput {
        vmid: id,
        node: node_name.clone(),
        kind: vol.kind,
        volid: vol.text.clone(),
        overwrite,
        job: Job::default(),
        change: ChangeReport::from_gate(plan, &gate),
    };
    if !matches!(gate, Gate::Proceed(_)) {
        return Ok(out);
    }
    let upid = s
        .api
        .restore(
            &node_name,
            vol.kind,
            id,
            &vol.text,
            st.as_deref(),
            overwrite,
        )
        .await?;
    tracing::info!(vmid = id, node = %node_name, volid = %vol.text, overwrite, upid = %upid, "restore started");
    out.job = jobs::follow(&s, &ctx, &node_name, upid, Duration::from_secs(wait.into())).await?;
    Ok(out)
}
