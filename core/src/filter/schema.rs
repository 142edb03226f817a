//! The selectors a filter may use: the shape of Consul's `CheckServiceNode` as go-bexpr sees it
//! (the table in the `filter` module docs is this file's specification).
//!
//! Resolving here, at parse time, is what lets a write of `Service.Metaa == x` fail instead of
//! producing a filter that matches nothing.

use super::ast::{BoolField, CheckStr, IntField, MapField, NodeStr, Quoted, ServiceStr, StrField};
use super::error::FieldKind;

/// What a resolved selector points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Selected {
    Str(StrField),
    Check(CheckStr),
    Int(IntField),
    Bool(BoolField),
    Tags,
    Map(MapField),
    Checks,
    Group,
}

impl Selected {
    pub(crate) fn kind(&self) -> FieldKind {
        match self {
            Selected::Str(_) | Selected::Check(_) => FieldKind::String,
            Selected::Int(_) => FieldKind::Integer,
            Selected::Bool(_) => FieldKind::Boolean,
            Selected::Tags => FieldKind::StringList,
            Selected::Map(_) => FieldKind::Map,
            Selected::Checks => FieldKind::CheckList,
            Selected::Group => FieldKind::Group,
        }
    }
}

/// Resolves a selector path. `Err(n)` means segment `n` (0-based) names nothing, so the
/// caller can quote the path up to and including it, as go-bexpr does.
pub(crate) fn resolve(path: &[String]) -> Result<Selected, usize> {
    let Some((root, rest)) = path.split_first() else {
        return Err(0);
    };
    let found = match root.as_str() {
        "Node" => node(rest),
        "Service" => service(rest),
        "Checks" => checks(rest),
        _ => return Err(0),
    };
    found.map_err(|i| i + 1)
}

/// Selectors resolve relative to their parent; errors are shifted back by the caller.
type Resolved = Result<Selected, usize>;

/// A field with no children: anything after it is an unknown selector.
fn leaf(selected: Selected, rest: &[String]) -> Resolved {
    if rest.is_empty() { Ok(selected) } else { Err(0) }
}

/// A string-keyed map: any key is a valid child, and `entry` resolves below the key.
fn map(
    field: MapField,
    rest: &[String],
    entry: impl FnOnce(String, &[String]) -> Resolved,
) -> Resolved {
    match rest.split_first() {
        None => Ok(Selected::Map(field)),
        Some((key, tail)) => entry(key.clone(), tail).map_err(|i| i + 1),
    }
}

fn node(rest: &[String]) -> Resolved {
    let Some((name, tail)) = rest.split_first() else {
        return Ok(Selected::Group);
    };
    let text = |f| Selected::Str(StrField::Node(f));
    let found = match name.as_str() {
        "ID" => leaf(text(NodeStr::Id), tail),
        "Node" => leaf(text(NodeStr::Node), tail),
        "Address" => leaf(text(NodeStr::Address), tail),
        "Datacenter" => leaf(text(NodeStr::Datacenter), tail),
        "Partition" => leaf(text(NodeStr::Partition), tail),
        "TaggedAddresses" => map(MapField::NodeTaggedAddresses, tail, |k, t| {
            leaf(Selected::Str(StrField::NodeTaggedAddress(k)), t)
        }),
        "Meta" => {
            map(MapField::NodeMeta, tail, |k, t| leaf(Selected::Str(StrField::NodeMeta(k)), t))
        }
        _ => return Err(0),
    };
    found.map_err(|i| i + 1)
}

fn service(rest: &[String]) -> Resolved {
    let Some((name, tail)) = rest.split_first() else {
        return Ok(Selected::Group);
    };
    let text = |f| Selected::Str(StrField::Service(f));
    let found = match name.as_str() {
        "ID" => leaf(text(ServiceStr::Id), tail),
        "Service" => leaf(text(ServiceStr::Service), tail),
        "Address" => leaf(text(ServiceStr::Address), tail),
        "Kind" => leaf(text(ServiceStr::Kind), tail),
        "Namespace" => leaf(text(ServiceStr::Namespace), tail),
        "Partition" => leaf(text(ServiceStr::Partition), tail),
        "Port" => leaf(Selected::Int(IntField::Port), tail),
        "Tags" => leaf(Selected::Tags, tail),
        "Meta" => map(MapField::ServiceMeta, tail, |k, t| {
            leaf(Selected::Str(StrField::ServiceMeta(k)), t)
        }),
        "TaggedAddresses" => map(MapField::ServiceTaggedAddresses, tail, service_address),
        "Weights" => group(tail, |field| match field {
            "Passing" => Some(Selected::Int(IntField::WeightsPassing)),
            "Warning" => Some(Selected::Int(IntField::WeightsWarning)),
            _ => None,
        }),
        "Connect" => group(tail, |field| match field {
            "Native" => Some(Selected::Bool(BoolField::ConnectNative)),
            _ => None,
        }),
        "Proxy" => group(tail, |field| match field {
            "DestinationServiceName" => Some(text(ServiceStr::ProxyDestinationServiceName)),
            _ => None,
        }),
        _ => return Err(0),
    };
    found.map_err(|i| i + 1)
}

/// A struct-valued field whose children are all leaves; selecting it alone is a
/// [`Selected::Group`].
fn group(rest: &[String], child: impl FnOnce(&str) -> Option<Selected>) -> Resolved {
    let Some((name, tail)) = rest.split_first() else {
        return Ok(Selected::Group);
    };
    let selected = child(name).ok_or(0_usize)?;
    leaf(selected, tail).map_err(|i| i + 1)
}

/// `Service.TaggedAddresses.<key>` is Consul's `ServiceAddress{Address, Port}`.
fn service_address(key: String, rest: &[String]) -> Resolved {
    group(rest, |field| match field {
        "Address" => Some(Selected::Str(StrField::ServiceTaggedAddress(key))),
        "Port" => Some(Selected::Int(IntField::TaggedAddressPort(key))),
        _ => None,
    })
}

fn checks(rest: &[String]) -> Resolved {
    let Some((name, tail)) = rest.split_first() else {
        return Ok(Selected::Checks);
    };
    let field = match name.as_str() {
        "CheckID" => CheckStr::CheckId,
        "Name" => CheckStr::Name,
        "Status" => CheckStr::Status,
        "ServiceID" => CheckStr::ServiceId,
        "ServiceName" => CheckStr::ServiceName,
        _ => return Err(0),
    };
    leaf(Selected::Check(field), tail).map_err(|i| i + 1)
}

/// go-bexpr identifier: `[a-zA-Z][a-zA-Z0-9_/]*`.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/')
}

/// A dotted segment after the first may also be all digits (`Meta.2`).
pub(crate) fn is_dotted_segment(s: &str) -> bool {
    is_identifier(s) || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// Canonical selector text: dotted where the segment allows it, `["..."]` otherwise.
pub(crate) fn render(path: &[String]) -> String {
    let mut out = String::new();
    for (i, seg) in path.iter().enumerate() {
        if i == 0 && is_identifier(seg) {
            out.push_str(seg);
        } else if i > 0 && is_dotted_segment(seg) {
            out.push('.');
            out.push_str(seg);
        } else {
            out.push_str(&format!("[{}]", Quoted(seg)));
        }
    }
    out
}
