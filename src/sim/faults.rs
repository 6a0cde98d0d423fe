//! Faults: a FIFO script for the next `/v3` requests, then random ones at the configured rates.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One scripted fault; JSON like `{"kind":"status","status":429,"error_key":"throttled","retry_after":1}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// An error status in the v3 error shape (401 and 429 as one object, others as an array).
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_key: Option<String>,
        /// Seconds for a `Retry-After` header.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// 200 with a JSON content type and a body cut off midway.
    Malformed,
    /// The normal answer after a delay.
    Delay { ms: u64 },
    /// A 200 whose body starts and then the connection aborts.
    Reset,
}

/// What the random roll picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RandomFault {
    Status(u16),
    Malformed,
}

#[derive(Debug)]
pub struct Faults {
    script: Mutex<VecDeque<(Fault, u32)>>,
    rng: Mutex<fastrand::Rng>,
    fault_rate: f64,
    malformed_rate: f64,
}

impl Faults {
    pub fn new(seed: u64, fault_rate: f64, malformed_rate: f64) -> Self {
        Self {
            script: Mutex::default(),
            rng: Mutex::new(fastrand::Rng::with_seed(seed ^ 0xFA17)),
            fault_rate,
            malformed_rate,
        }
    }

    pub fn inject(&self, fault: Fault, times: u32) {
        if times > 0 {
            self.script
                .lock()
                .expect("fault lock")
                .push_back((fault, times));
        }
    }

    /// The next scripted fault, if any; each entry serves `times` requests.
    pub fn next_scripted(&self) -> Option<Fault> {
        let mut script = self.script.lock().expect("fault lock");
        let (fault, left) = script.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            script.pop_front();
        }
        Some(fault)
    }

    pub fn roll(&self) -> Option<RandomFault> {
        if self.fault_rate <= 0.0 && self.malformed_rate <= 0.0 {
            return None;
        }
        let mut rng = self.rng.lock().expect("rng lock");
        let x = rng.f64();
        if x < self.fault_rate {
            Some(RandomFault::Status(if rng.bool() { 500 } else { 503 }))
        } else if x < self.fault_rate + self.malformed_rate {
            Some(RandomFault::Malformed)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_fifo_with_counts_and_serde_shape() {
        let f = Faults::new(1, 0.0, 0.0);
        let json = r#"{"kind":"status","status":429,"error_key":"throttled","retry_after":1}"#;
        let status: Fault = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&status).unwrap(), json);
        f.inject(status.clone(), 2);
        f.inject(Fault::Reset, 1);
        assert_eq!(f.next_scripted(), Some(status.clone()));
        assert_eq!(f.next_scripted(), Some(status));
        assert_eq!(f.next_scripted(), Some(Fault::Reset));
        assert_eq!(f.next_scripted(), None);
        assert_eq!(f.roll(), None);
        let d: Fault = serde_json::from_str(r#"{"kind":"delay","ms":5}"#).unwrap();
        assert_eq!(d, Fault::Delay { ms: 5 });
    }

    #[test]
    fn random_rates_are_roughly_honoured() {
        let f = Faults::new(7, 0.1, 0.05);
        let rolls: Vec<_> = (0..10_000).map(|_| f.roll()).collect();
        let errors = rolls
            .iter()
            .filter(|r| matches!(r, Some(RandomFault::Status(_))))
            .count();
        let bad = rolls
            .iter()
            .filter(|r| matches!(r, Some(RandomFault::Malformed)))
            .count();
        assert!(
            (800..1200).contains(&errors) && (350..650).contains(&bad),
            "{errors} {bad}"
        );
    }
}
