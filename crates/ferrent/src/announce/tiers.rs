//! BEP 12 multitracker order: tiers tried in order, trackers within a tier shuffled once, and a
//! tracker that answers moves to the front of its tier.
#![deny(clippy::disallowed_methods)]

use rand::Rng;
use rand::seq::SliceRandom;

/// The trackers of a torrent in BEP 12 order. Pure state: the announcer asks for the order to
/// try ([`TrackerTiers::attempt_order`]) and reports which tracker answered
/// ([`TrackerTiers::succeeded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerTiers {
    tiers: Vec<Vec<String>>,
}

impl TrackerTiers {
    /// Tiers as the metainfo gives them (`announce-list`, or `announce` as a single tier);
    /// empty tiers and duplicate URLs are dropped; each tier is shuffled once with `rng`
    /// (BEP 12: "shuffled randomly when the client first reads them").
    pub fn new(tiers: Vec<Vec<String>>, rng: &mut impl Rng) -> Self {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for tier in tiers {
            let mut t: Vec<String> = tier
                .into_iter()
                .filter(|u| !u.is_empty() && seen.insert(u.clone()))
                .collect();
            if !t.is_empty() {
                t.shuffle(rng);
                out.push(t);
            }
        }
        TrackerTiers { tiers: out }
    }

    /// Whether there is no tracker at all.
    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    /// Number of trackers over all tiers.
    pub fn len(&self) -> usize {
        self.tiers.iter().map(Vec::len).sum()
    }

    /// The order in which to try the trackers for one announce: the first tier's trackers in
    /// order, then the next tier's, and so on. The announcer stops at the first that answers.
    pub fn attempt_order(&self) -> Vec<String> {
        self.tiers.iter().flatten().cloned().collect()
    }

    /// `url` answered: it moves to the front of its tier (BEP 12), so the next announce starts
    /// with it.
    pub fn succeeded(&mut self, url: &str) {
        for tier in &mut self.tiers {
            if let Some(pos) = tier.iter().position(|u| u == url) {
                let u = tier.remove(pos);
                tier.insert(0, u);
                return;
            }
        }
    }

    /// The tiers in their current order.
    pub fn tiers(&self) -> &[Vec<String>] {
        &self.tiers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tiers() -> Vec<Vec<String>> {
        vec![
            vec!["a".into(), "b".into(), "c".into()],
            vec![],
            vec!["d".into(), "a".into()],
        ]
    }

    #[test]
    fn empty_tiers_and_duplicates_are_dropped() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let t = TrackerTiers::new(tiers(), &mut rng);
        assert_eq!(t.tiers().len(), 2);
        assert_eq!(t.tiers()[1], vec!["d".to_string()]);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn tiers_keep_their_order_and_winner_moves_to_front() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut t = TrackerTiers::new(tiers(), &mut rng);
        let order = t.attempt_order();
        assert_eq!(order.last().map(String::as_str), Some("d"));
        let mut first_tier: Vec<_> = order[..3].to_vec();
        first_tier.sort();
        assert_eq!(first_tier, vec!["a", "b", "c"]);
        let winner = order[2].clone();
        t.succeeded(&winner);
        assert_eq!(t.attempt_order()[0], winner);
        t.succeeded("d");
        assert_eq!(t.attempt_order()[3], "d");
    }

    #[test]
    fn shuffling_depends_on_rng_only() {
        let many: Vec<Vec<String>> = vec![(0..20).map(|i| i.to_string()).collect()];
        let a = TrackerTiers::new(many.clone(), &mut rand::rngs::StdRng::seed_from_u64(3));
        let b = TrackerTiers::new(many.clone(), &mut rand::rngs::StdRng::seed_from_u64(3));
        let c = TrackerTiers::new(many, &mut rand::rngs::StdRng::seed_from_u64(4));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
