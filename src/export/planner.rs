//! Sizing a partitioned export: how many chains (lanes) and which `created_at` windows.
//!
//! One probe of the whole query (`include_count`, a sample of `created_at`s, and the API's
//! latency) decides whether one chain can reach the limit (latency × rate ≤ 1: no windows).
//! Otherwise split points are guessed from the sample, then every window is counted in one
//! concurrent round and windows far over their share are split once more. Counts only size the
//! windows: whatever they say, the windows cover the whole time line, so no contact is missed.

use std::sync::Arc;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::task::JoinSet;

use super::windows::{MAX_LANES, Partitions, boundary, partitionable};
use crate::cc::{CcError, ContactsClient, ContactsQuery};

/// Encoded pages the windows behind the head may hold together (see `lanes.rs`): ~18 MB of CSV
/// with every `include`.
pub const LANE_BUDGET: usize = 96;
/// Pages per window. While the head window is written, the other lanes fetch about as much each
/// into the budget, so (lanes - 1) × this should fit it; and each window ends on a part-full
/// page, so windows should not be too small either.
const WINDOW_PAGES: u64 = 20;
const MAX_WINDOWS: usize = 128;
/// Contacts the probe reads to guess the spread of `created_at`.
const SAMPLE: u16 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowPlan {
    /// Split points (`windows::boundary`); empty = one chain.
    pub boundaries: Vec<String>,
    /// Chains run at once.
    pub lanes: usize,
    /// Contacts the probe counted, when it ran.
    pub total: Option<u64>,
    /// Requests spent on planning.
    pub probes: u32,
}

impl WindowPlan {
    fn single(total: Option<u64>, probes: u32) -> Self {
        Self {
            boundaries: Vec::new(),
            lanes: 1,
            total,
            probes,
        }
    }
}

pub async fn plan(
    client: &Arc<ContactsClient>,
    base: &ContactsQuery,
    mode: Partitions,
) -> Result<WindowPlan, CcError> {
    if matches!(mode, Partitions::Off | Partitions::Fixed(0..=1)) || !partitionable(base) {
        return Ok(WindowPlan::single(None, 0));
    }
    // An earlier request (the custom fields, for CSV) may already say one chain is enough.
    if mode == Partitions::Auto && client.latency().is_some() && lanes_for(client, mode).is_none() {
        return Ok(WindowPlan::single(None, 0));
    }
    let mut probe = base.clone();
    probe.limit = SAMPLE;
    probe.include.clear();
    probe.include_count = true;
    let page = client.first_page(&probe).await?;
    let Some(total) = page.contacts_count else {
        return Ok(WindowPlan::single(None, 1));
    };
    let lanes = match lanes_for(client, mode) {
        Some(n) if n > 1 => n,
        _ => return Ok(WindowPlan::single(Some(total), 1)),
    };
    let pages = total.div_ceil(u64::from(base.limit.max(1)));
    if pages < 2 * lanes as u64 {
        return Ok(WindowPlan::single(Some(total), 1));
    }
    // Counted windows: about one per lane; each is then cut in equal time slices of about
    // WINDOW_PAGES without counting (so probes stay a few per cent of the requests).
    let counted = (pages.div_ceil(WINDOW_PAGES) as usize).clamp(2, lanes + 1);
    let target = total.div_ceil(counted as u64);
    let sample = created_secs(&page.contacts);
    let guess = guess_splits(&sample, total, counted);
    let mut probes = 1;
    let mut cells = count_cells(client, base, &guess, total, &mut probes).await?;
    cells = split_oversized(client, base, cells, target, &mut probes).await?;
    let per_window = WINDOW_PAGES * u64::from(base.limit.max(1));
    let boundaries = slice(&merge(&cells, target), per_window, MAX_WINDOWS);
    tracing::info!(
        total,
        lanes,
        windows = boundaries.len() + 1,
        probes,
        "partitioned the export on created_at"
    );
    Ok(WindowPlan {
        boundaries,
        lanes,
        total: Some(total),
        probes,
    })
}

/// Chains an export runs at once: as many as it takes for latency × rate requests in flight,
/// a quarter more, and one being written; `None` (one chain) when one chain reaches the rate.
fn lanes_for(client: &ContactsClient, mode: Partitions) -> Option<usize> {
    match mode {
        Partitions::Off => None,
        Partitions::Fixed(n) => Some(n.min(MAX_LANES) as usize),
        Partitions::Auto => {
            let latency = client.latency()?.as_secs_f64();
            let chains = latency * f64::from(client.rate_limit());
            (chains > 1.0).then(|| ((chains * 1.25).ceil() as usize + 1).min(MAX_LANES as usize))
        }
    }
}

/// Lanes for a partitioned checkpoint resumed before any request told the API's latency.
pub fn lanes_for_resume(client: &ContactsClient, mode: Partitions) -> usize {
    const UNMEASURED: usize = 4;
    match (mode, client.latency()) {
        (Partitions::Auto, None) => UNMEASURED,
        _ => lanes_for(client, mode).unwrap_or(1),
    }
}

/// A stretch of the time line `[lo, hi)` (whole seconds; `None` = unbounded) and its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cell {
    lo: Option<i64>,
    hi: Option<i64>,
    count: u64,
}

fn created_secs(contacts: &[Box<serde_json::value::RawValue>]) -> Vec<i64> {
    #[derive(Deserialize)]
    struct Created<'a> {
        #[serde(borrow)]
        created_at: Option<&'a str>,
    }
    contacts
        .iter()
        .filter_map(|c| serde_json::from_str::<Created>(c.get()).ok()?.created_at)
        .filter_map(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(|t| t.unix_timestamp())
        .collect()
}

/// Split points for `windows` equal shares, guessed from a sample of `created_at`s: a sample in
/// ascending order is the oldest contacts (extrapolated at their rate), any other is spread
/// over the account (its quantiles are used).
fn guess_splits(sample: &[i64], total: u64, windows: usize) -> Vec<i64> {
    if sample.len() < 2 || windows < 2 {
        return Vec::new();
    }
    let mut splits: Vec<i64> = if sample.is_sorted() {
        let first = sample[0] as f64;
        let per_contact = (sample[sample.len() - 1] - sample[0]) as f64 / (sample.len() - 1) as f64;
        (1..windows)
            .map(|i| (first + per_contact * (total as f64 * i as f64 / windows as f64)) as i64)
            .collect()
    } else {
        let mut s = sample.to_vec();
        s.sort_unstable();
        (1..windows).map(|i| s[i * s.len() / windows]).collect()
    };
    splits.dedup();
    splits.retain(|&t| t > sample.iter().copied().min().unwrap_or(i64::MIN));
    splits
}

/// Counts the cells between consecutive `splits` in one concurrent round; the last cell gets
/// what the others leave of `total`.
async fn count_cells(
    client: &Arc<ContactsClient>,
    base: &ContactsQuery,
    splits: &[i64],
    total: u64,
    probes: &mut u32,
) -> Result<Vec<Cell>, CcError> {
    let mut edges = vec![None];
    edges.extend(splits.iter().map(|&t| Some(t)));
    edges.push(None);
    let cells: Vec<(Option<i64>, Option<i64>)> = edges.windows(2).map(|w| (w[0], w[1])).collect();
    let counted = count_all(client, base, &cells[..cells.len() - 1], probes).await?;
    let rest = total.saturating_sub(counted.iter().sum());
    Ok(cells
        .iter()
        .zip(counted.into_iter().chain([rest]))
        .map(|(&(lo, hi), count)| Cell { lo, hi, count })
        .collect())
}

/// Cells over 1.5 shares with a known span are split in equal time slices, counted at once.
async fn split_oversized(
    client: &Arc<ContactsClient>,
    base: &ContactsQuery,
    cells: Vec<Cell>,
    target: u64,
    probes: &mut u32,
) -> Result<Vec<Cell>, CcError> {
    let mut slices: Vec<Vec<(Option<i64>, Option<i64>)>> = Vec::new();
    for c in &cells {
        let span = match (c.lo, c.hi) {
            (Some(lo), Some(hi)) if c.count > target * 3 / 2 && hi - lo >= 2 => (lo, hi),
            _ => {
                slices.push(vec![(c.lo, c.hi)]);
                continue;
            }
        };
        let k = (c.count.div_ceil(target.max(1)) as i64)
            .clamp(2, 16)
            .min(span.1 - span.0);
        let step = (span.1 - span.0) / k;
        slices.push(
            (0..k)
                .map(|i| {
                    let lo = span.0 + i * step;
                    let hi = if i + 1 == k { span.1 } else { lo + step };
                    (Some(lo), Some(hi))
                })
                .collect(),
        );
    }
    // Count every slice but the last of each split cell; the last gets the remainder.
    let to_count: Vec<_> = slices
        .iter()
        .filter(|s| s.len() > 1)
        .flat_map(|s| s[..s.len() - 1].iter().copied())
        .collect();
    let mut counted = count_all(client, base, &to_count, probes)
        .await?
        .into_iter();
    let mut out = Vec::new();
    for (cell, s) in cells.iter().zip(slices) {
        if s.len() == 1 {
            out.push(*cell);
            continue;
        }
        let mut left = cell.count;
        for (i, &(lo, hi)) in s.iter().enumerate() {
            let count = if i + 1 == s.len() {
                left
            } else {
                counted.next().unwrap_or(0).min(left)
            };
            left -= count;
            out.push(Cell { lo, hi, count });
        }
    }
    Ok(out)
}

/// Contacts in each `[lo, hi)`, asked concurrently (the key's limiter paces them).
async fn count_all(
    client: &Arc<ContactsClient>,
    base: &ContactsQuery,
    cells: &[(Option<i64>, Option<i64>)],
    probes: &mut u32,
) -> Result<Vec<u64>, CcError> {
    let mut set = JoinSet::new();
    for (i, &(lo, hi)) in cells.iter().enumerate() {
        let mut q = base.clone();
        q.limit = 1;
        q.include.clear();
        q.include_count = true;
        q.created_after = lo.map(split_point);
        q.created_before = hi.map(split_point);
        let client = client.clone();
        set.spawn(async move { (i, client.first_page(&q).await) });
    }
    *probes += cells.len() as u32;
    let mut out = vec![0; cells.len()];
    while let Some(joined) = set.join_next().await {
        let (i, page) =
            joined.map_err(|e| CcError::Config(format!("count probe panicked: {e}")))?;
        out[i] = page?.contacts_count.unwrap_or(0);
    }
    Ok(out)
}

/// The split point before second `t`: half a second earlier, so no contact sits on it.
fn split_point(t: i64) -> String {
    boundary(t - 1)
}

/// Adjacent cells joined into cells of about `target` contacts.
fn merge(cells: &[Cell], target: u64) -> Vec<Cell> {
    let mut out: Vec<Cell> = Vec::new();
    for c in cells {
        match out.last_mut() {
            Some(last) if last.count == 0 || last.count + c.count <= target + target / 4 => {
                last.hi = c.hi;
                last.count += c.count;
            }
            _ => out.push(*c),
        }
    }
    out
}

/// The split points of `cells`, each cut in equal time slices of about `per_window` contacts
/// (at most `max` windows in all). An open end is taken as far from the cell's split as the
/// neighbouring cell's density says.
fn slice(cells: &[Cell], per_window: u64, max: usize) -> Vec<String> {
    let per_window = per_window
        .max(cells.iter().map(|c| c.count).sum::<u64>() / max as u64)
        .max(1);
    let density = |c: &Cell| match (c.lo, c.hi) {
        (Some(lo), Some(hi)) if c.count > 0 => Some((hi - lo) as f64 / c.count as f64),
        _ => None,
    };
    let mut points = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let near = [i.checked_sub(1), Some(i + 1)]
            .into_iter()
            .flatten()
            .filter_map(|j| cells.get(j).and_then(density))
            .next();
        let reach = |secs_per_contact: f64| (secs_per_contact * c.count as f64) as i64;
        let span = match (c.lo, c.hi, near) {
            (Some(lo), Some(hi), _) => Some((lo, hi)),
            (None, Some(hi), Some(d)) => Some((hi - reach(d), hi)),
            (Some(lo), None, Some(d)) => Some((lo, lo + reach(d))),
            _ => None,
        };
        let n = c.count.div_ceil(per_window) as i64;
        if let Some((lo, hi)) = span.filter(|&(lo, hi)| n > 1 && hi - lo >= n) {
            let step = (hi - lo) / n;
            points.extend((1..n).map(|k| lo + k * step));
        }
        if let Some(hi) = c.hi.filter(|_| i + 1 < cells.len()) {
            points.push(hi);
        }
    }
    points.sort_unstable();
    points.dedup();
    points.into_iter().map(split_point).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ascending_sample_is_extrapolated() {
        let sample: Vec<i64> = (0..100).map(|i| 1000 + i * 30).collect();
        // 1,000 contacts at 30 s each: four equal shares split every 250 contacts.
        assert_eq!(guess_splits(&sample, 1000, 4), vec![8500, 16000, 23500]);
    }

    #[test]
    fn a_scattered_sample_gives_its_quantiles() {
        let sample: Vec<i64> = (0..100).rev().map(|i| i * 10).collect();
        assert_eq!(guess_splits(&sample, 1_000_000, 4), vec![250, 500, 750]);
        assert!(guess_splits(&[5], 10, 4).is_empty());
    }

    #[test]
    fn merge_joins_small_cells_and_keeps_big_ones_alone() {
        let cell = |lo: Option<i64>, count| Cell {
            lo,
            hi: None,
            count,
        };
        let cells = [
            cell(None, 40),
            cell(Some(10), 40),
            cell(Some(20), 200),
            cell(Some(30), 0),
            cell(Some(40), 100),
        ];
        let merged = merge(&cells, 100);
        let bounds: Vec<_> = merged.iter().map(|c| (c.lo, c.count)).collect();
        assert_eq!(bounds, vec![(None, 80), (Some(20), 200), (Some(30), 100)]);
    }

    #[test]
    fn slices_cut_cells_in_equal_time_and_extrapolate_open_ends() {
        let cell = |lo, hi, count| Cell { lo, hi, count };
        let cells = [
            cell(None, Some(100), 20),
            cell(Some(100), Some(200), 40),
            cell(Some(200), None, 20),
        ];
        // 2.5 s per contact: the open ends reach 50 s beyond their split.
        let expect: Vec<String> = [75, 100, 125, 150, 175, 200, 225].map(split_point).to_vec();
        assert_eq!(slice(&cells, 10, 128), expect);
        // At most 4 windows: slices grow.
        assert_eq!(
            slice(&cells, 10, 4),
            [100, 150, 200].map(split_point).to_vec()
        );
    }
}
