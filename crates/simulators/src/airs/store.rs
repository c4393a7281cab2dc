//! In-memory scan state: every sync and async scan with its results and
//! reports, bounded to the most recent scans (the oldest are evicted).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::model::{
    SIM_DETECTOR_VERSION, ScanIdResult, ScanResponse, ScanStatus, ThreatScanReport,
};

/// Scans kept by default; the oldest are evicted beyond this.
pub const MAX_SCANS: usize = 100_000;

/// One `req_id` of a scan: its result and report, computed on receipt.
#[derive(Debug, Clone)]
pub struct ScanItem {
    /// 0 for a sync scan.
    pub req_id: i64,
    /// The scan result.
    pub result: ScanResponse,
    /// The threat report.
    pub report: ThreatScanReport,
}

/// A stored scan (one sync request or one async batch).
#[derive(Debug, Clone)]
pub struct ScanRecord {
    /// The scan id.
    pub scan_id: String,
    /// The report id.
    pub report_id: String,
    /// Results and reports are hidden until then.
    pub ready_at: Instant,
    /// In request order.
    pub items: Vec<ScanItem>,
}

impl ScanRecord {
    fn status(&self, now: Instant) -> ScanStatus {
        if now >= self.ready_at {
            ScanStatus::Complete
        } else {
            ScanStatus::Pending
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    scans: HashMap<String, Arc<ScanRecord>>,
    by_report: HashMap<String, String>,
    order: VecDeque<String>,
}

/// The scan store.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl Default for Store {
    fn default() -> Self {
        Self::new(MAX_SCANS)
    }
}

impl Store {
    /// A store keeping at most `capacity` scans (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `record`, evicting the oldest scans beyond the capacity.
    pub fn insert(&self, record: ScanRecord) {
        let mut s = self.lock();
        let scan_id = record.scan_id.clone();
        s.by_report
            .insert(record.report_id.clone(), scan_id.clone());
        if s.scans.insert(scan_id.clone(), Arc::new(record)).is_none() {
            s.order.push_back(scan_id);
        }
        while s.order.len() > self.capacity {
            let Some(old) = s.order.pop_front() else {
                break;
            };
            if let Some(r) = s.scans.remove(&old) {
                s.by_report.remove(&r.report_id);
            }
        }
    }

    /// How many scans are stored.
    pub fn len(&self) -> usize {
        self.lock().scans.len()
    }

    /// Is the store empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, ids: &[&str], by_report: bool) -> Vec<Arc<ScanRecord>> {
        let s = self.lock();
        ids.iter()
            .filter_map(|id| {
                let scan_id = if by_report {
                    s.by_report.get(*id)?.as_str()
                } else {
                    id
                };
                s.scans.get(scan_id).cloned()
            })
            .collect()
    }

    /// One item per (scan, req_id) for the known `scan_ids`, in the order
    /// asked; unknown ids are skipped.
    pub fn results(&self, scan_ids: &[&str], now: Instant) -> Vec<ScanIdResult> {
        let mut out = Vec::new();
        for rec in self.get(scan_ids, false) {
            let status = rec.status(now);
            for item in &rec.items {
                out.push(ScanIdResult {
                    req_id: item.req_id,
                    status,
                    scan_id: rec.scan_id.clone(),
                    result: (status == ScanStatus::Complete).then(|| item.result.clone()),
                    x_sim_detector_version: SIM_DETECTOR_VERSION,
                });
            }
        }
        out
    }

    /// One report per req_id of each known, complete scan in `report_ids`.
    pub fn reports(&self, report_ids: &[&str], now: Instant) -> Vec<ThreatScanReport> {
        self.get(report_ids, true)
            .iter()
            .filter(|rec| rec.status(now) == ScanStatus::Complete)
            .flat_map(|rec| rec.items.iter().map(|i| i.report.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> ScanRecord {
        ScanRecord {
            scan_id: format!("s{n}"),
            report_id: format!("Rs{n}"),
            ready_at: Instant::now(),
            items: Vec::new(),
        }
    }

    #[test]
    fn evicts_oldest() {
        let store = Store::new(3);
        for n in 0..5 {
            store.insert(record(n));
        }
        assert_eq!(store.len(), 3);
        let s = store.lock();
        assert!(!s.scans.contains_key("s1") && s.scans.contains_key("s2"));
        assert!(!s.by_report.contains_key("Rs1") && s.by_report.contains_key("Rs4"));
        assert_eq!(s.order, ["s2", "s3", "s4"]);
    }
}
