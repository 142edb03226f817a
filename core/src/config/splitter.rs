//! `service-splitter`: weighted splits of a service's traffic (CONSUL-FACTS.md §3.4).

use super::common::{HttpHeaderModifiers, entry_struct};

entry_struct! {
    /// A `service-splitter` entry.
    pub struct ServiceSplitter {
        /// The legs; weights sum to 100.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub splits: Vec<ServiceSplit>,
    }
}

/// One leg of a split.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceSplit {
    /// Percentage of traffic, in steps of 0.01.
    #[serde(serialize_with = "serialize_weight")]
    pub weight: f64,
    /// Target service; empty means the splitter's own service.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Target subset.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Target namespace; empty means the splitter's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Target partition; empty means the splitter's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Request header changes for this leg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<HttpHeaderModifiers>,
    /// Response header changes for this leg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<HttpHeaderModifiers>,
}

/// Writes whole weights as integers (`80`, as Consul prints them) and others as decimals.
pub(crate) fn serialize_weight<S: serde::Serializer>(w: &f64, s: S) -> Result<S::Ok, S::Error> {
    if w.fract() == 0.0 && w.abs() < 1e15 {
        s.serialize_i64(*w as i64)
    } else {
        s.serialize_f64(*w)
    }
}

/// A weight in hundredths of a percent, the unit Consul checks sums in and Envoy's
/// `weighted_clusters` uses (total 10000).
pub fn weight_hundredths(weight: f64) -> i64 {
    (weight * 100.0).round() as i64
}

impl ServiceSplitter {
    pub(crate) fn normalize(&mut self) {
        for split in &mut self.splits {
            split.weight = weight_hundredths(split.weight) as f64 / 100.0;
            if split.namespace.is_empty() {
                split.namespace.clone_from(&self.namespace);
            }
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("Name is required".into());
        }
        if self.name == "*" {
            return Err(
                "service-splitter name must be the name of a service, and not a wildcard".into()
            );
        }
        if self.splits.is_empty() {
            return Err("no splits configured".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut sum: i64 = 0;
        for (i, split) in self.splits.iter().enumerate() {
            if !split.weight.is_finite() || split.weight < 0.0 || split.weight > 100.0 {
                return Err(format!(
                    "Splits[{i}].Weight must be between 0 and 100, not {}",
                    split.weight
                ));
            }
            let service = if split.service.is_empty() { &self.name } else { &split.service };
            let key = (service, &split.service_subset, &split.namespace, &split.partition);
            if !seen.insert(key) {
                return Err(format!(
                    "split destination occurs more than once: service={service:?}, subset={:?}, namespace={:?}, partition={:?}",
                    split.service_subset, split.namespace, split.partition
                ));
            }
            sum += weight_hundredths(split.weight);
        }
        if sum != 10_000 {
            return Err(format!(
                "the sum of all split weights must be 100, not {:.6}",
                sum as f64 / 100.0
            ));
        }
        Ok(())
    }
}
