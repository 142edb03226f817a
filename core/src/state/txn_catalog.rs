//! Catalog operations inside a transaction (Consul's `txnNode`, `txnService`, `txnCheck`):
//! get, set, cas, delete and delete-cas on nodes, service instances and checks, through the
//! same register/deregister paths as the catalog endpoints, so validation and watch keys are
//! identical. A write that changes a node re-checks the sessions bound to it.

use super::txn::{CatalogVerb, OpResult, TxnCheckOp, TxnNodeOp, TxnResult, TxnServiceOp};
use super::{Changes, StateMachine};

/// A set-CAS matches when the row is absent and the index is 0, or the row's ModifyIndex is
/// the index given.
fn set_cas_matches(current: Option<u64>, wanted: u64) -> bool {
    current.unwrap_or(0) == wanted
}

/// A delete-CAS needs the row to exist with the index given.
fn delete_cas_matches(current: Option<u64>, wanted: u64) -> bool {
    current == Some(wanted)
}

impl StateMachine {
    pub(super) fn txn_node(&mut self, tx: &mut Changes, op: &TxnNodeOp) -> OpResult {
        let name = op.node.node.as_str();
        let current = self.nodes.get(name).map(|n| n.modify_index);
        let wanted = op.node.modify_index;
        match op.verb {
            CatalogVerb::Get => self.txn_node_get(name),
            CatalogVerb::Cas if !set_cas_matches(current, wanted) => {
                Err(format!("failed to set node {name:?}, index is stale"))
            }
            CatalogVerb::Set | CatalogVerb::Cas => {
                self.register(tx, &op.node, None, &[]).map_err(|e| e.to_string())?;
                self.invalidate_sessions_on(tx, name);
                self.txn_node_get(name)
            }
            CatalogVerb::DeleteCas if !delete_cas_matches(current, wanted) => {
                Err(format!("failed to delete node {name:?}, index is stale"))
            }
            CatalogVerb::Delete | CatalogVerb::DeleteCas => {
                self.deregister_node(tx, name);
                self.invalidate_sessions_on(tx, name);
                Ok(Vec::new())
            }
        }
    }

    pub(super) fn txn_node_get(&self, name: &str) -> OpResult {
        let node = self.nodes.get(name).ok_or_else(|| format!("node {name:?} doesn't exist"))?;
        Ok(vec![TxnResult::Node(node.clone())])
    }

    pub(super) fn txn_service(&mut self, tx: &mut Changes, op: &TxnServiceOp) -> OpResult {
        let node = op.node.as_str();
        let id = if op.service.id.is_empty() { &op.service.service } else { &op.service.id };
        let current = self.service(node, id).map(|s| s.modify_index);
        let wanted = op.service.modify_index;
        match op.verb {
            CatalogVerb::Get => self.txn_service_get(node, id),
            CatalogVerb::Cas if !set_cas_matches(current, wanted) => {
                Err(format!("failed to set service {id:?} on node {node:?}, index is stale"))
            }
            CatalogVerb::Set | CatalogVerb::Cas => {
                let row = self.nodes.get(node).cloned().ok_or("Missing node registration")?;
                self.register(tx, &row, Some(&op.service), &[]).map_err(|e| e.to_string())?;
                self.txn_service_get(node, id)
            }
            CatalogVerb::DeleteCas if !delete_cas_matches(current, wanted) => {
                Err(format!("failed to delete service {id:?} on node {node:?}, index is stale"))
            }
            CatalogVerb::Delete | CatalogVerb::DeleteCas => {
                self.deregister_service(tx, node, id);
                self.invalidate_sessions_on(tx, node);
                Ok(Vec::new())
            }
        }
    }

    pub(super) fn txn_service_get(&self, node: &str, id: &str) -> OpResult {
        let s = self
            .service(node, id)
            .ok_or_else(|| format!("service {id:?} on node {node:?} doesn't exist"))?;
        Ok(vec![TxnResult::Service(Box::new(s.clone()))])
    }

    pub(super) fn txn_check(&mut self, tx: &mut Changes, op: &TxnCheckOp) -> OpResult {
        let (node, id) = (op.check.node.as_str(), op.check.check_id.as_str());
        let current = self.checks.get(node).and_then(|m| m.get(id)).map(|c| c.modify_index);
        let wanted = op.check.modify_index;
        match op.verb {
            CatalogVerb::Get => self.txn_check_get(node, id),
            CatalogVerb::Cas if !set_cas_matches(current, wanted) => {
                Err(format!("failed to set check {id:?} on node {node:?}, index is stale"))
            }
            CatalogVerb::Set | CatalogVerb::Cas => {
                let row = self.nodes.get(node).cloned().ok_or("Missing node registration")?;
                let check = std::slice::from_ref(&op.check);
                self.register(tx, &row, None, check).map_err(|e| e.to_string())?;
                self.invalidate_sessions_on(tx, node);
                self.txn_check_get(node, id)
            }
            CatalogVerb::DeleteCas if !delete_cas_matches(current, wanted) => {
                Err(format!("failed to delete check {id:?} on node {node:?}, index is stale"))
            }
            CatalogVerb::Delete | CatalogVerb::DeleteCas => {
                self.deregister_check(tx, node, id);
                self.invalidate_sessions_on(tx, node);
                Ok(Vec::new())
            }
        }
    }

    pub(super) fn txn_check_get(&self, node: &str, id: &str) -> OpResult {
        let c = self
            .checks
            .get(node)
            .and_then(|m| m.get(id))
            .ok_or_else(|| format!("check {id:?} on node {node:?} doesn't exist"))?;
        Ok(vec![TxnResult::Check(super::model::Check::clone(c))])
    }
}
