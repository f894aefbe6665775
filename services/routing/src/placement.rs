//! Which routing partition routes what.
//!
//! Routing is split into partitions, each with one writer at a time (see [`crate::distributor`]).
//! A tenant's calls and agents go to the partition of its **routing domain**: a small tenant has
//! only its default domain and is routed whole by one partition; a large tenant splits its queues
//! and agents into named domains (a region, a line of business), each placed by a stable hash of
//! (tenant, domain), so that several replicas share its routing.
//!
//! The rules that keep a domain closed, so that one partition can route it alone:
//! - a queue is in one domain for good (set when created), and overflows only within it;
//! - an agent serves only queues of their own domain, and changes domain only while logged out;
//! - a call is in the domain of the queue it waits in, or of the agent it was transferred to by
//!   name; a transfer into another domain takes it out of the old one (whose agent is freed)
//!   and into the new one;
//! - a customer's open case is routed with its owner's domain (only there can the owner take the
//!   caller's calls); handed to an owner in another domain, it moves there.
//!
//! [`Placement`] tracks, for one partition, the domain of every queue, agent and call of every
//! tenant (ids only), and says for each event whether the partition's router takes it.

use std::collections::HashMap;

use callcenter_kit::{Name, TenantId};

use crate::domain::{AgentEvent, QueueEvent};

/// One of the routing partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Partition {
    /// Which (from 0).
    pub index: u32,
    /// Of how many.
    pub count: u32,
}

impl Partition {
    /// The only partition of a deployment that does not split its tenants.
    pub const WHOLE: Partition = Partition { index: 0, count: 1 };

    /// Whether the partition routes `domain` of `tenant` (`None`: the tenant's default domain):
    /// FNV-1a of the tenant id, followed by `/` and the domain's name for a named domain, modulo
    /// the count.
    pub fn owns(&self, tenant: &TenantId, domain: Option<&Name>) -> bool {
        let fnv = |hash: u64, bytes: &[u8]| {
            bytes.iter().fold(hash, |hash, byte| {
                (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
            })
        };
        let mut hash = fnv(0xcbf2_9ce4_8422_2325, tenant.as_str().as_bytes());
        if let Some(domain) = domain {
            hash = fnv(fnv(hash, b"/"), domain.as_str().as_bytes());
        }
        hash % u64::from(self.count.max(1)) == u64::from(self.index)
    }

    /// The lease that gives the partition its one writer.
    pub fn lease(&self) -> Name {
        Name::new(format!("routing-p{}", self.index)).expect("valid name")
    }
}

/// A routing domain of a tenant (`None`: its default domain).
type Domain = Option<Name>;

/// An agent or call of a tenant.
type Key = (TenantId, Name);

/// What a partition does with an agent's event.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AgentPlace {
    /// The agent is routed elsewhere: skip the event.
    Elsewhere,
    /// Fold the event into the router.
    Route,
    /// Fold the event, then take the agent out of the router: they moved to a domain routed
    /// elsewhere.
    RouteThenLeave,
    /// The agent moved into a domain routed here: put them into the router as they stand now
    /// (loaded from the log; the router skips the events it then already holds).
    Join,
}

/// What a partition does when a call is queued.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueuedPlace {
    /// The call left a domain routed here: finish it in the router (its agent is freed).
    pub leave: bool,
    /// The call is routed here: fold the queueing into the router.
    pub route: bool,
    /// Who calls, when the call enters the router (first queueing here, or from another domain).
    pub entering_caller: Option<String>,
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct CallPlace {
    caller: Option<String>,
    /// The domain it waits or is talked to in; `None` until first queued.
    domain: Option<Domain>,
}

/// The domains of one partition's tenants, as its events tell them.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Placement {
    partition: Partition,
    queues: HashMap<Key, Domain>,
    agents: HashMap<Key, Domain>,
    calls: HashMap<Key, CallPlace>,
    cases: HashMap<Key, Domain>,
}

/// What a partition does with a case's new owner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CasePlace {
    /// The case was routed here and now is not: close it in the router.
    pub leave: bool,
    /// The case is routed here: record its owner in the router.
    pub route: bool,
}

impl Placement {
    /// The partition it places for.
    pub fn partition(&self) -> Partition {
        self.partition
    }

    /// Nothing known yet, for `partition`.
    pub fn new(partition: Partition) -> Self {
        Self {
            partition,
            queues: HashMap::new(),
            agents: HashMap::new(),
            calls: HashMap::new(),
            cases: HashMap::new(),
        }
    }

    fn owns(&self, tenant: &TenantId, domain: Option<&Name>) -> bool {
        self.partition.owns(tenant, domain)
    }

    /// Whether the router takes the queue's event (the queue's domain is routed here).
    pub fn queue_event(&mut self, tenant: &TenantId, queue_id: &Name, event: &QueueEvent) -> bool {
        let key = (tenant.clone(), queue_id.clone());
        if let QueueEvent::Created { routing_domain, .. } = event {
            self.queues.insert(key.clone(), routing_domain.clone());
        }
        let domain = self.queues.get(&key).cloned().flatten();
        self.owns(tenant, domain.as_ref())
    }

    /// What the router does with the agent's event.
    pub fn agent_event(
        &mut self,
        tenant: &TenantId,
        agent_id: &Name,
        event: &AgentEvent,
    ) -> AgentPlace {
        let key = (tenant.clone(), agent_id.clone());
        let before = match event {
            AgentEvent::Created { routing_domain, .. } => routing_domain.clone(),
            _ => self.agents.get(&key).cloned().flatten(),
        };
        let after = match event {
            AgentEvent::Created { routing_domain, .. }
            | AgentEvent::RoutingDomainMoved { routing_domain, .. } => routing_domain.clone(),
            _ => before.clone(),
        };
        let place = match (
            self.owns(tenant, before.as_ref()),
            self.owns(tenant, after.as_ref()),
        ) {
            (true, true) => AgentPlace::Route,
            (true, false) => AgentPlace::RouteThenLeave,
            (false, true) => AgentPlace::Join,
            (false, false) => AgentPlace::Elsewhere,
        };
        self.agents.insert(key, after);
        place
    }

    /// A case is open and owned by `owner` (opened, or handed on).
    pub fn case_owned(&mut self, tenant: &TenantId, case_id: &Name, owner: &Name) -> CasePlace {
        let domain = self
            .agents
            .get(&(tenant.clone(), owner.clone()))
            .cloned()
            .flatten();
        let before = self
            .cases
            .insert((tenant.clone(), case_id.clone()), domain.clone());
        let route = self.owns(tenant, domain.as_ref());
        CasePlace {
            leave: !route && before.is_some_and(|before| self.owns(tenant, before.as_ref())),
            route,
        }
    }

    /// A case was closed; whether the router takes that. The case is forgotten.
    pub fn case_closed(&mut self, tenant: &TenantId, case_id: &Name) -> bool {
        self.cases
            .remove(&(tenant.clone(), case_id.clone()))
            .is_some_and(|domain| self.owns(tenant, domain.as_ref()))
    }

    /// A call reached the platform from `caller`.
    pub fn call_offered(&mut self, tenant: &TenantId, call_id: &Name, caller: &str) {
        self.calls
            .entry((tenant.clone(), call_id.clone()))
            .or_default()
            .caller = Some(caller.to_owned());
    }

    /// A call entered `queue_id`, or waits for `target_agent_id` (a transfer by name).
    pub fn call_queued(
        &mut self,
        tenant: &TenantId,
        call_id: &Name,
        queue_id: &Name,
        target_agent_id: Option<&Name>,
    ) -> QueuedPlace {
        let domain = match target_agent_id {
            Some(agent_id) => self.agents.get(&(tenant.clone(), agent_id.clone())),
            None => self.queues.get(&(tenant.clone(), queue_id.clone())),
        }
        .cloned()
        .flatten();
        let owned = self.owns(tenant, domain.as_ref());
        let place = self
            .calls
            .entry((tenant.clone(), call_id.clone()))
            .or_default();
        let moved = place.domain.as_ref() != Some(&domain);
        let leave = moved
            && place
                .domain
                .as_ref()
                .is_some_and(|before| self.partition.owns(tenant, before.as_ref()));
        place.domain = Some(domain);
        QueuedPlace {
            leave,
            route: owned,
            entering_caller: (owned && moved).then(|| place.caller.clone()).flatten(),
        }
    }

    /// Whether the router takes an event of a queued call (answered, back in the queue).
    pub fn call_event(&self, tenant: &TenantId, call_id: &Name) -> bool {
        self.calls
            .get(&(tenant.clone(), call_id.clone()))
            .and_then(|place| place.domain.as_ref())
            .is_some_and(|domain| self.owns(tenant, domain.as_ref()))
    }

    /// The call ended; whether the router takes that. The call is forgotten.
    pub fn call_finished(&mut self, tenant: &TenantId, call_id: &Name) -> bool {
        let routed = self.call_event(tenant, call_id);
        self.calls.remove(&(tenant.clone(), call_id.clone()));
        routed
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, name};

    use super::*;

    /// Two domains of one tenant that two partitions route apart.
    fn split() -> (TenantId, Name, Name) {
        let tenant = name("bigbank");
        let domains: Vec<Name> = (0..100).map(|i| name(&format!("region-{i}"))).collect();
        let of = |domain: &Name| Partition { index: 0, count: 2 }.owns(&tenant, Some(domain));
        let here = domains.iter().find(|domain| of(domain)).unwrap().clone();
        let there = domains.iter().find(|domain| !of(domain)).unwrap().clone();
        (tenant, here, there)
    }

    fn queue(domain: &Name) -> QueueEvent {
        QueueEvent::Created {
            display_name: "Q".into(),
            center_id: name("langfang"),
            after_call_work_seconds: 0,
            routing_domain: Some(domain.clone()),
            at: at(0),
        }
    }

    #[test]
    fn every_tenant_belongs_to_exactly_one_partition() {
        for count in [1, 2, 3, 8] {
            let mut sizes = vec![0_u32; count as usize];
            for tenant in 0..1_000 {
                let tenant = name(&format!("tenant-{tenant}"));
                let owners: Vec<u32> = (0..count)
                    .filter(|index| {
                        Partition {
                            index: *index,
                            count,
                        }
                        .owns(&tenant, None)
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "{tenant} in {count} partitions");
                sizes[owners[0] as usize] += 1;
            }
            assert!(
                sizes.iter().all(|size| *size > 1_000 / count / 2),
                "tenants spread over the partitions: {sizes:?}"
            );
        }
        assert_eq!(Partition::WHOLE.lease().as_str(), "routing-p0");
    }

    #[test]
    fn a_large_tenant_spreads_its_routing_domains_over_the_partitions() {
        let tenant = name("bigbank");
        let mut sizes = [0_u32; 4];
        for domain in 0..400 {
            let domain = name(&format!("region-{domain}"));
            let owners: Vec<u32> = (0..4)
                .filter(|index| {
                    Partition {
                        index: *index,
                        count: 4,
                    }
                    .owns(&tenant, Some(&domain))
                })
                .collect();
            assert_eq!(owners.len(), 1);
            sizes[owners[0] as usize] += 1;
        }
        assert!(sizes.iter().all(|size| *size > 50), "{sizes:?}");
    }

    #[test]
    fn a_routing_domain_routes_only_its_own_queues_agents_and_calls() {
        let (tenant, here, there) = split();
        let mut placement = Placement::new(Partition { index: 0, count: 2 });
        assert!(placement.queue_event(&tenant, &name("north"), &queue(&here)));
        assert!(!placement.queue_event(&tenant, &name("south"), &queue(&there)));
        let created = |domain: &Name| AgentEvent::Created {
            display_name: "A".into(),
            center_id: name("langfang"),
            queue_ids: vec![],
            routing_domain: Some(domain.clone()),
            at: at(0),
        };
        assert_eq!(
            placement.agent_event(&tenant, &name("a1"), &created(&here)),
            AgentPlace::Route
        );
        assert_eq!(
            placement.agent_event(&tenant, &name("a2"), &created(&there)),
            AgentPlace::Elsewhere
        );
        assert_eq!(
            placement.agent_event(&tenant, &name("a2"), &AgentEvent::Ready { at: at(1) }),
            AgentPlace::Elsewhere
        );
        placement.call_offered(&tenant, &name("c1"), "13900000001");
        assert_eq!(
            placement.call_queued(&tenant, &name("c1"), &name("north"), None),
            QueuedPlace {
                leave: false,
                route: true,
                entering_caller: Some("13900000001".into()),
            }
        );
        assert!(placement.call_event(&tenant, &name("c1")));
        assert_eq!(
            placement.call_queued(&tenant, &name("c2"), &name("south"), None),
            QueuedPlace::default()
        );
        assert!(!placement.call_event(&tenant, &name("c2")));
        // A transfer by name goes to the agent's domain.
        assert!(
            !placement
                .call_queued(&tenant, &name("c3"), &name("north"), Some(&name("a2")))
                .route
        );
    }

    #[test]
    fn a_call_transferred_into_another_routing_domain_leaves_the_old_one() {
        let (tenant, here, there) = split();
        let mut ours = Placement::new(Partition { index: 0, count: 2 });
        let mut theirs = Placement::new(Partition { index: 1, count: 2 });
        for placement in [&mut ours, &mut theirs] {
            placement.queue_event(&tenant, &name("north"), &queue(&here));
            placement.queue_event(&tenant, &name("south"), &queue(&there));
            placement.call_offered(&tenant, &name("c1"), "13900000001");
            placement.call_queued(&tenant, &name("c1"), &name("north"), None);
        }
        assert_eq!(
            ours.call_queued(&tenant, &name("c1"), &name("south"), None),
            QueuedPlace {
                leave: true,
                route: false,
                entering_caller: None,
            }
        );
        assert_eq!(
            theirs.call_queued(&tenant, &name("c1"), &name("south"), None),
            QueuedPlace {
                leave: false,
                route: true,
                entering_caller: Some("13900000001".into()),
            }
        );
        // Back in the same domain's queue again: routed as a transfer within it.
        assert_eq!(
            theirs.call_queued(&tenant, &name("c1"), &name("south"), None),
            QueuedPlace {
                leave: false,
                route: true,
                entering_caller: None,
            }
        );
        assert!(theirs.call_finished(&tenant, &name("c1")));
        assert!(!theirs.call_event(&tenant, &name("c1")));
    }

    #[test]
    fn an_agent_moving_routing_domain_leaves_one_partition_and_joins_the_other() {
        let (tenant, here, there) = split();
        let mut ours = Placement::new(Partition { index: 0, count: 2 });
        let mut theirs = Placement::new(Partition { index: 1, count: 2 });
        let created = AgentEvent::Created {
            display_name: "A".into(),
            center_id: name("langfang"),
            queue_ids: vec![],
            routing_domain: Some(here.clone()),
            at: at(0),
        };
        let moved = AgentEvent::RoutingDomainMoved {
            routing_domain: Some(there),
            at: at(1),
        };
        let agent = name("a1");
        assert_eq!(
            ours.agent_event(&tenant, &agent, &created),
            AgentPlace::Route
        );
        assert_eq!(
            theirs.agent_event(&tenant, &agent, &created),
            AgentPlace::Elsewhere
        );
        assert_eq!(
            ours.agent_event(&tenant, &agent, &moved),
            AgentPlace::RouteThenLeave
        );
        assert_eq!(
            theirs.agent_event(&tenant, &agent, &moved),
            AgentPlace::Join
        );
        let login = AgentEvent::LoggedIn {
            seat: name("desk-1"),
            at: at(2),
        };
        assert_eq!(
            ours.agent_event(&tenant, &agent, &login),
            AgentPlace::Elsewhere
        );
        assert_eq!(
            theirs.agent_event(&tenant, &agent, &login),
            AgentPlace::Route
        );
    }

    #[test]
    fn an_open_case_is_routed_with_its_owners_domain() {
        let (tenant, here, there) = split();
        let mut ours = Placement::new(Partition { index: 0, count: 2 });
        for (agent, domain) in [("near", &here), ("far", &there)] {
            let created = AgentEvent::Created {
                display_name: agent.into(),
                center_id: name("langfang"),
                queue_ids: vec![],
                routing_domain: Some(domain.clone()),
                at: at(0),
            };
            ours.agent_event(&tenant, &name(agent), &created);
        }
        let case = name("case-1");
        assert_eq!(
            ours.case_owned(&tenant, &case, &name("near")),
            CasePlace {
                leave: false,
                route: true
            }
        );
        assert_eq!(
            ours.case_owned(&tenant, &case, &name("far")),
            CasePlace {
                leave: true,
                route: false
            }
        );
        assert!(!ours.case_closed(&tenant, &case));
        ours.case_owned(&tenant, &name("case-2"), &name("near"));
        assert!(ours.case_closed(&tenant, &name("case-2")));
    }
}
