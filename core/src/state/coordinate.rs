//! Network coordinates (`/v1/coordinate/*`): the Vivaldi position each agent reports for its
//! node, replicated so `?near=` sorting and the coordinate endpoints agree on every server.
//!
//! Computing coordinates (Vivaldi over gossip round trips) is not this module's business: it
//! stores what agents write. As in Consul's `CoordinateBatchUpdate`, an update for a node the
//! catalog does not know is skipped rather than refused (agents may report before their
//! registration lands), and deregistering a node drops its coordinates, so a node that never
//! wrote one, or is gone, has none.

use super::{Changes, StateError, StateMachine, WatchKey};

/// Dimensions of a Vivaldi vector in Consul (serf's `DefaultConfig().Dimensionality`).
pub const COORDINATE_DIMENSIONS: usize = 8;

/// Serf's `coordinate.Coordinate`: a point in the Vivaldi space plus its error estimate.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Coord {
    /// Euclidean part of the position.
    pub vec: Vec<f64>,
    /// Confidence in the position (1.5 for a fresh coordinate).
    pub error: f64,
    /// Latency adjustment learned from observed round trips.
    pub adjustment: f64,
    /// Non-Euclidean "height" (access-link latency).
    pub height: f64,
}

impl Coord {
    /// The coordinate serf starts from before any round trip is measured
    /// (`coordinate.NewCoordinate(DefaultConfig())`): origin, maximum error, minimum height.
    pub fn origin() -> Self {
        Coord { vec: vec![0.0; COORDINATE_DIMENSIONS], error: 1.5, adjustment: 0.0, height: 1e-5 }
    }

    /// Estimated round trip to `other`, in seconds (serf's `DistanceTo`): the Euclidean
    /// distance plus both heights, plus both adjustments unless that would make it negative.
    pub fn distance_to(&self, other: &Coord) -> f64 {
        let squares: f64 = self.vec.iter().zip(&other.vec).map(|(a, b)| (a - b) * (a - b)).sum();
        let raw = squares.sqrt() + self.height + other.height;
        let adjusted = raw + self.adjustment + other.adjustment;
        if adjusted > 0.0 { adjusted } else { raw }
    }

    /// Consul's `IsValid` (every component finite) and `IsCompatibleWith` (same
    /// dimensionality as the servers' own coordinates).
    fn check(&self) -> Result<(), StateError> {
        let finite = self.vec.iter().chain([&self.error, &self.adjustment, &self.height]);
        if !finite.into_iter().all(|v| v.is_finite()) {
            return Err(StateError::InvalidCoordinate("invalid coordinate"));
        }
        if self.vec.len() != COORDINATE_DIMENSIONS {
            return Err(StateError::InvalidCoordinate("incompatible coordinate"));
        }
        Ok(())
    }
}

/// One node's coordinate in one network segment (Consul's `structs.Coordinate`).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Coordinate {
    /// Node name.
    pub node: String,
    /// Network segment (Enterprise; empty is the default segment).
    pub segment: String,
    /// The position.
    pub coord: Coord,
}

/// The body of [`super::Command::CoordinateBatchUpdate`]: updates applied together, all or
/// none (a bad coordinate refuses the batch).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CoordinateBatch {
    /// One row per node and segment.
    pub updates: Vec<Coordinate>,
}

impl StateMachine {
    /// Every stored coordinate, by node then segment ([`WatchKey::Coordinates`]).
    pub fn coordinates(&self) -> Vec<Coordinate> {
        self.coordinates.iter().map(|((node, segment), coord)| row(node, segment, coord)).collect()
    }

    /// One node's coordinates, one per segment; empty when it has none
    /// ([`WatchKey::Coordinates`]).
    pub fn node_coordinates(&self, node: &str) -> Vec<Coordinate> {
        let from = (node.to_owned(), String::new());
        self.coordinates
            .range(from..)
            .take_while(|((n, _), _)| n == node)
            .map(|((n, segment), coord)| row(n, segment, coord))
            .collect()
    }

    pub(super) fn coordinates_update(
        &mut self,
        tx: &mut Changes,
        batch: &CoordinateBatch,
    ) -> Result<bool, StateError> {
        let updates = &batch.updates;
        for u in updates {
            if u.node.is_empty() {
                return Err(StateError::MissingNode);
            }
            u.coord.check()?;
        }
        for u in updates.iter().filter(|u| self.nodes.contains_key(&u.node)) {
            let key = (u.node.clone(), u.segment.clone());
            if self.coordinates.get(&key) != Some(&u.coord) {
                self.coordinates.insert(key, u.coord.clone());
                tx.touch(WatchKey::Coordinates);
            }
        }
        Ok(true)
    }

    /// Orders `rows` by estimated round trip from node `near` (Consul's `?near=`), stable,
    /// rows whose node has no coordinate last. Unchanged when `near` has no coordinate.
    pub fn sort_near<T>(&self, near: &str, rows: &mut [T], node_of: impl Fn(&T) -> &str) {
        let Some(from) = self.coordinates.get(&(near.to_owned(), String::new())) else { return };
        let distance = |node: &str| {
            self.coordinates
                .get(&(node.to_owned(), String::new()))
                .map_or(f64::INFINITY, |c| from.distance_to(c))
        };
        rows.sort_by(|a, b| distance(node_of(a)).total_cmp(&distance(node_of(b))));
    }

    /// Removes a deregistered node's coordinates (Consul's `deleteNodeTxn`).
    pub(super) fn drop_node_coordinates(&mut self, tx: &mut Changes, node: &str) {
        let from = (node.to_owned(), String::new());
        let keys: Vec<_> = self
            .coordinates
            .range(from..)
            .take_while(|((n, _), _)| n == node)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &keys {
            self.coordinates.remove(key);
        }
        if !keys.is_empty() {
            tx.touch(WatchKey::Coordinates);
        }
    }

    /// Restores coordinate rows from a snapshot.
    pub(super) fn fill_coordinates(&mut self, rows: Vec<Coordinate>) {
        self.coordinates = rows.into_iter().map(|c| ((c.node, c.segment), c.coord)).collect();
    }
}

fn row(node: &str, segment: &str, coord: &Coord) -> Coordinate {
    Coordinate { node: node.to_owned(), segment: segment.to_owned(), coord: coord.clone() }
}

/// `(node, segment)` → coordinate.
pub(super) type CoordinateTable = super::Table<(String, String), Coord>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Command;
    use crate::state::tests::{dc1, register};

    fn update(node: &str, error: f64) -> Coordinate {
        Coordinate {
            node: node.into(),
            segment: String::new(),
            coord: Coord { error, ..Coord::origin() },
        }
    }

    fn batch(updates: Vec<Coordinate>) -> Command {
        Command::CoordinateBatchUpdate(CoordinateBatch { updates })
    }

    #[test]
    fn updates_for_known_nodes_are_stored_and_unknown_nodes_skipped() {
        let mut sm = StateMachine::new(dc1());
        let _ = sm.apply(2, &register("n1", None, vec![])).unwrap();
        let r = sm.apply(3, &batch(vec![update("n1", 0.5), update("ghost", 0.7)])).unwrap();
        assert!(r.succeeded);
        assert_eq!(r.changed, vec![WatchKey::Coordinates]);
        assert_eq!(sm.coordinates(), vec![update("n1", 0.5)]);
        assert_eq!(sm.node_coordinates("n1"), vec![update("n1", 0.5)]);
        assert!(sm.node_coordinates("ghost").is_empty());
        assert!(sm.node_coordinates("n").is_empty(), "a prefix of a name is another node");
        assert_eq!(sm.index_of(&WatchKey::Coordinates), 3);

        let r = sm.apply(4, &batch(vec![update("n1", 0.5)])).unwrap();
        assert!(r.changed.is_empty(), "an identical coordinate moves no index");
    }

    #[test]
    fn bad_coordinates_are_refused_and_change_nothing() {
        let mut sm = StateMachine::new(dc1());
        let _ = sm.apply(2, &register("n1", None, vec![])).unwrap();
        let mut short = update("n1", 0.5);
        short.coord.vec.pop();
        let err = sm.apply(3, &batch(vec![update("n1", 0.1), short])).unwrap_err();
        assert_eq!(err.to_string(), "incompatible coordinate");
        let mut nan = update("n1", 0.5);
        nan.coord.height = f64::NAN;
        assert_eq!(sm.apply(4, &batch(vec![nan])).unwrap_err().to_string(), "invalid coordinate");
        let nameless = update("", 0.5);
        assert_eq!(sm.apply(5, &batch(vec![nameless])).unwrap_err(), StateError::MissingNode);
        assert!(sm.coordinates().is_empty(), "a refused batch writes none of its rows");
    }

    #[test]
    fn deregistering_a_node_drops_its_coordinates() {
        let mut sm = StateMachine::new(dc1());
        let _ = sm.apply(2, &register("n1", None, vec![])).unwrap();
        let _ = sm.apply(3, &register("n2", None, vec![])).unwrap();
        let _ = sm.apply(4, &batch(vec![update("n1", 0.5), update("n2", 0.6)])).unwrap();
        let r = sm.apply(5, &Command::DeregisterNode { node: "n1".into() }).unwrap();
        assert!(r.changed.contains(&WatchKey::Coordinates));
        assert_eq!(sm.coordinates(), vec![update("n2", 0.6)]);
        assert_eq!(sm.index_of(&WatchKey::Coordinates), 5);
    }

    #[test]
    fn near_sorts_by_round_trip_and_puts_unknown_nodes_last() {
        let mut sm = StateMachine::new(dc1());
        for (i, n) in ["a", "b", "c", "d"].iter().enumerate() {
            let _ = sm.apply(i as u64 + 1, &register(n, None, vec![])).unwrap();
        }
        let at = |node: &str, x: f64| {
            let mut coord = Coord::origin();
            coord.vec[0] = x;
            Coordinate { node: node.into(), segment: String::new(), coord }
        };
        let updates = vec![at("a", 0.0), at("b", 0.3), at("c", 0.1)];
        let _ = sm.apply(9, &batch(updates)).unwrap();
        let mut rows = vec!["d", "b", "c", "a"];
        sm.sort_near("a", &mut rows, |r| r);
        assert_eq!(rows, ["a", "c", "b", "d"]);
        let mut rows = vec!["d", "b", "c", "a"];
        sm.sort_near("d", &mut rows, |r| r);
        assert_eq!(rows, ["d", "b", "c", "a"], "no coordinate for near: order kept");
        let (o, far) = (Coord::origin(), at("x", 0.5).coord);
        assert!((o.distance_to(&far) - (0.5 + 2e-5)).abs() < 1e-12);
    }

    #[test]
    fn coordinates_survive_a_snapshot() {
        let mut sm = StateMachine::new(dc1());
        let _ = sm.apply(2, &register("n1", None, vec![])).unwrap();
        let _ = sm.apply(3, &batch(vec![update("n1", 0.25)])).unwrap();
        let mut restored = StateMachine::new(dc1());
        restored.restore(&sm.snapshot()).unwrap();
        assert_eq!(restored, sm);
        assert_eq!(restored.coordinates(), vec![update("n1", 0.25)]);
    }
}
