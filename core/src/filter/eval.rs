//! Evaluates a checked tree against one [`ServiceInstance`]. Total and allocation-free: the
//! parser settled every question of types, so all that is left is reading fields.
//!
//! Two rules come from go-bexpr and are easy to get wrong:
//! * an absent map key (`Service.Meta.version` on an instance without that key) passes
//!   `is empty` and fails every other positive test, so `!=`, `not in`, `not matches` and
//!   `is not empty` answer the opposite;
//! * a selector through the checks list (`Checks.Status`) applies the whole operator, negation
//!   included, to each check and is true if any check passes; with no checks it is false.

use super::ast::{
    BoolField, CheckStr, Expr, IntField, ListTest, MapField, Match, NodeStr, Predicate, ServiceStr,
    StrField, StrTest,
};
use super::instance::{CheckInfo, ServiceInstance};

/// Short-circuits left to right, so the result and the work done are both deterministic.
pub(crate) fn eval(expr: &Expr, inst: &ServiceInstance) -> bool {
    match expr {
        Expr::Or(items) => items.iter().any(|e| eval(e, inst)),
        Expr::And(items) => items.iter().all(|e| eval(e, inst)),
        Expr::Not(inner) => !eval(inner, inst),
        Expr::Match(p) => predicate(p, inst),
    }
}

fn predicate(p: &Predicate, inst: &ServiceInstance) -> bool {
    let negate = p.operator.is_negated();
    match &p.test {
        Match::Str(field, test) => match str_value(field, inst) {
            Some(v) => negate != str_test(test, v),
            None => negate != matches!(test, StrTest::Empty),
        },
        Match::Check(field, test) => {
            inst.checks.iter().any(|c| negate != str_test(test, check_str(c, *field)))
        }
        Match::Int(field, want) => match int_value(field, inst) {
            Some(v) => negate != (v == *want),
            None => negate,
        },
        Match::Bool(BoolField::ConnectNative, want) => {
            negate != (inst.service.connect.native == *want)
        }
        Match::Tags(test) => negate != list_test(test, &inst.service.tags),
        Match::Map(field, test) => negate != map_test(*field, test, inst),
        Match::ChecksEmpty => negate != inst.checks.is_empty(),
    }
}

fn str_test(test: &StrTest, v: &str) -> bool {
    match test {
        StrTest::Equal(want) => v == want,
        StrTest::Contains(needle) => v.contains(needle.as_str()),
        StrTest::Matches(re) => re.is_match(v),
        StrTest::Empty => v.is_empty(),
    }
}

fn list_test(test: &ListTest, items: &[String]) -> bool {
    match test {
        ListTest::Has(want) => items.iter().any(|i| i == want),
        ListTest::Empty => items.is_empty(),
    }
}

fn map_test(field: MapField, test: &ListTest, inst: &ServiceInstance) -> bool {
    let (node, service) = (&inst.node, &inst.service);
    match (test, field) {
        (ListTest::Empty, MapField::NodeMeta) => node.meta.is_empty(),
        (ListTest::Empty, MapField::NodeTaggedAddresses) => node.tagged_addresses.is_empty(),
        (ListTest::Empty, MapField::ServiceMeta) => service.meta.is_empty(),
        (ListTest::Empty, MapField::ServiceTaggedAddresses) => service.tagged_addresses.is_empty(),
        (ListTest::Has(k), MapField::NodeMeta) => node.meta.contains_key(k),
        (ListTest::Has(k), MapField::NodeTaggedAddresses) => node.tagged_addresses.contains_key(k),
        (ListTest::Has(k), MapField::ServiceMeta) => service.meta.contains_key(k),
        (ListTest::Has(k), MapField::ServiceTaggedAddresses) => {
            service.tagged_addresses.contains_key(k)
        }
    }
}

/// `None` only for an absent map key.
fn str_value<'a>(field: &StrField, inst: &'a ServiceInstance) -> Option<&'a str> {
    let (node, service) = (&inst.node, &inst.service);
    let value = match field {
        StrField::Node(f) => match f {
            NodeStr::Id => &node.id,
            NodeStr::Node => &node.node,
            NodeStr::Address => &node.address,
            NodeStr::Datacenter => &node.datacenter,
            NodeStr::Partition => &node.partition,
        },
        StrField::NodeMeta(k) => node.meta.get(k)?,
        StrField::NodeTaggedAddress(k) => node.tagged_addresses.get(k)?,
        StrField::Service(f) => match f {
            ServiceStr::Id => &service.id,
            ServiceStr::Service => &service.service,
            ServiceStr::Address => &service.address,
            ServiceStr::Kind => &service.kind,
            ServiceStr::Namespace => &service.namespace,
            ServiceStr::Partition => &service.partition,
            ServiceStr::ProxyDestinationServiceName => &service.proxy.destination_service_name,
        },
        StrField::ServiceMeta(k) => service.meta.get(k)?,
        StrField::ServiceTaggedAddress(k) => &service.tagged_addresses.get(k)?.address,
    };
    Some(value)
}

fn check_str(check: &CheckInfo, field: CheckStr) -> &str {
    match field {
        CheckStr::CheckId => &check.check_id,
        CheckStr::Name => &check.name,
        CheckStr::Status => &check.status,
        CheckStr::ServiceId => &check.service_id,
        CheckStr::ServiceName => &check.service_name,
    }
}

/// `None` only for an absent tagged-address key.
fn int_value(field: &IntField, inst: &ServiceInstance) -> Option<i64> {
    let service = &inst.service;
    let value = match field {
        IntField::Port => i64::from(service.port),
        IntField::WeightsPassing => i64::from(service.weights.passing),
        IntField::WeightsWarning => i64::from(service.weights.warning),
        IntField::TaggedAddressPort(k) => i64::from(service.tagged_addresses.get(k)?.port),
    };
    Some(value)
}
