//! Voice menus (IVR) and caller classification (DOMAIN.md §2).
//!
//! - A menu is a graph of nodes: `menu` (a prompt and DTMF choices), `hours` (business hours
//!   with an open and a closed branch), and two kinds of leaf: `queue` (to a person, in a queue,
//!   optionally asking a skill; an emergency choice goes to the front) and `self_service` (the
//!   IVR serves the caller itself).
//! - A menu is checked when it is saved: every reference resolves, every menu offers a choice,
//!   every node is reachable, there is no loop (a caller who presses nothing must always reach a
//!   leaf), and every queue exists. Menus are versioned; a call keeps the version it entered with.
//! - A caller's class (known customer, VIP, elderly) is looked up by number. The classes the menu
//!   names skip the menu and go straight to a person (the handbook: elderly callers found the
//!   menus too deep).
//! - No input (an empty key press) or a key the menu does not offer replays the prompt; after
//!   `max_attempts` such tries the caller goes to the menu's fallback. Keys pressed ahead of a
//!   prompt are used by the next menus in turn.

use std::collections::{BTreeMap, BTreeSet};

use callcenter_kit::{Aggregate, Name, Timestamp};

use super::call::Priority;
use super::outbound_policy::CallingHours;

/// How the platform knows a caller, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallerClass {
    /// A customer on record.
    Known,
    /// A customer who gets the best service.
    Vip,
    /// An elderly caller: straight to a person (DOMAIN.md §2).
    Elderly,
}

impl CallerClass {
    /// The class's name in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            CallerClass::Known => "known",
            CallerClass::Vip => "vip",
            CallerClass::Elderly => "elderly",
        }
    }

    /// The class of a name from [`CallerClass::as_str`].
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "known" => Some(CallerClass::Known),
            "vip" => Some(CallerClass::Vip),
            "elderly" => Some(CallerClass::Elderly),
            _ => None,
        }
    }
}

/// A queue a caller is handed to, with an optional skill and the call's priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueTarget {
    /// The queue.
    pub queue_id: Name,
    /// The skill the agent should have (recorded on the call for routing).
    pub skill: Option<Name>,
    /// Emergency goes to the front of the queue.
    pub priority: Priority,
}

/// One node of a menu.
#[derive(Clone, Debug, PartialEq)]
pub enum IvrNode {
    /// A prompt and the keys the caller may press.
    Menu {
        /// What the caller hears.
        prompt: String,
        /// Key (`0`–`9`, `*`, `#`) → next node.
        choices: BTreeMap<char, Name>,
        /// Tries (no input or an unknown key) before the fallback; 1 to 5.
        max_attempts: u8,
        /// Where the caller goes after `max_attempts` failed tries.
        fallback: Name,
    },
    /// Business hours: open when any window allows the call's time.
    Hours {
        /// The opening windows.
        open: Vec<CallingHours>,
        /// Where callers go while open.
        when_open: Name,
        /// Where callers go while closed.
        when_closed: Name,
    },
    /// Leaf: the caller waits for a person in a queue.
    Queue(QueueTarget),
    /// Leaf: the IVR serves the caller itself (an announcement, a balance, a callback request).
    SelfService {
        /// What the caller hears.
        prompt: String,
        /// The service, for reports.
        service: Name,
    },
}

impl IvrNode {
    /// The nodes this one leads to, with the field that names each.
    /// The name of the node's kind where a menu is written (`menu`, `hours`, `queue`,
    /// `self_service`).
    fn kind(&self) -> &'static str {
        match self {
            IvrNode::Menu { .. } => "menu",
            IvrNode::Hours { .. } => "hours",
            IvrNode::Queue(_) => "queue",
            IvrNode::SelfService { .. } => "self_service",
        }
    }

    fn exits(&self) -> Vec<(String, &Name)> {
        match self {
            IvrNode::Menu {
                choices, fallback, ..
            } => choices
                .iter()
                .map(|(key, next)| (format!("menu.choices.{key}"), next))
                .chain([("menu.fallback_node_id".to_owned(), fallback)])
                .collect(),
            IvrNode::Hours {
                when_open,
                when_closed,
                ..
            } => vec![
                ("hours.open_node_id".to_owned(), when_open),
                ("hours.closed_node_id".to_owned(), when_closed),
            ],
            IvrNode::Queue(_) | IvrNode::SelfService { .. } => vec![],
        }
    }
}

/// A tenant's voice menu for one or more dialled numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct IvrMenu {
    /// The first node.
    pub entry: Name,
    /// The nodes by id.
    pub nodes: BTreeMap<Name, IvrNode>,
    /// Caller classes that skip the menu.
    pub straight_to_person: BTreeSet<CallerClass>,
    /// Where those callers go; required when `straight_to_person` names a class.
    pub person_queue: Option<QueueTarget>,
}

/// Most nodes a menu may have.
pub const MAX_NODES: usize = 200;

/// Longest prompt text, in bytes.
pub const MAX_PROMPT: usize = 2000;

/// One thing wrong with a menu: the field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvrMenuProblem {
    /// Where, such as `nodes.main.menu.choices.9`.
    pub field: String,
    /// What.
    pub description: String,
}

impl IvrMenuProblem {
    fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// A key a caller may press.
pub fn is_dtmf_key(key: char) -> bool {
    key.is_ascii_digit() || key == '*' || key == '#'
}

impl IvrMenu {
    /// The queues the menu hands callers to.
    pub fn queues(&self) -> BTreeSet<Name> {
        self.nodes
            .values()
            .filter_map(|node| match node {
                IvrNode::Queue(target) => Some(target.queue_id.clone()),
                _ => None,
            })
            .chain(
                self.person_queue
                    .as_ref()
                    .map(|target| target.queue_id.clone()),
            )
            .collect()
    }

    /// Everything wrong with the menu, given the queues that exist among [`IvrMenu::queues`];
    /// empty when it may be saved.
    pub fn problems(&self, existing_queues: &BTreeSet<Name>) -> Vec<IvrMenuProblem> {
        let mut problems = Vec::new();
        if self.nodes.is_empty() {
            problems.push(IvrMenuProblem::new(
                "nodes",
                "a menu needs at least one node",
            ));
        }
        if self.nodes.len() > MAX_NODES {
            problems.push(IvrMenuProblem::new(
                "nodes",
                format!("at most {MAX_NODES} nodes"),
            ));
        }
        if !self.nodes.is_empty() && !self.nodes.contains_key(&self.entry) {
            problems.push(IvrMenuProblem::new(
                "entry_node_id",
                format!("dead end: no node {}", self.entry),
            ));
        }
        for (id, node) in &self.nodes {
            // Fields are named as the menu is written: the node's kind, then the field.
            let field = |rest: &str| format!("nodes.{id}.{}.{rest}", node.kind());
            for (exit, next) in node.exits() {
                if !self.nodes.contains_key(next) {
                    problems.push(IvrMenuProblem::new(
                        format!("nodes.{id}.{exit}"),
                        format!("dead end: no node {next}"),
                    ));
                }
            }
            match node {
                IvrNode::Menu {
                    prompt,
                    choices,
                    max_attempts,
                    ..
                } => {
                    check_prompt(prompt, &field("prompt"), &mut problems);
                    if choices.is_empty() {
                        problems.push(IvrMenuProblem::new(
                            field("choices"),
                            "dead end: a menu needs at least one choice",
                        ));
                    }
                    for key in choices.keys() {
                        if !is_dtmf_key(*key) {
                            problems.push(IvrMenuProblem::new(
                                field(&format!("choices.{key}")),
                                "a key is one of 0-9, * and #",
                            ));
                        }
                    }
                    if !(1..=5).contains(max_attempts) {
                        problems.push(IvrMenuProblem::new(
                            field("max_attempts"),
                            "between 1 and 5",
                        ));
                    }
                }
                IvrNode::Hours { open, .. } => {
                    if open.is_empty() {
                        problems.push(IvrMenuProblem::new(
                            field("open"),
                            "business hours need at least one window",
                        ));
                    }
                    for (index, window) in open.iter().enumerate() {
                        if let Err(reason) = window.validate() {
                            problems
                                .push(IvrMenuProblem::new(field(&format!("open.{index}")), reason));
                        }
                    }
                }
                IvrNode::Queue(target) => {
                    check_queue(target, &field("queue_id"), existing_queues, &mut problems);
                }
                IvrNode::SelfService { prompt, .. } => {
                    check_prompt(prompt, &field("prompt"), &mut problems);
                }
            }
        }
        match &self.person_queue {
            Some(target) => {
                check_queue(
                    target,
                    "person_queue.queue_id",
                    existing_queues,
                    &mut problems,
                );
            }
            None if !self.straight_to_person.is_empty() => problems.push(IvrMenuProblem::new(
                "person_queue",
                "callers who go straight to a person need a queue",
            )),
            None => {}
        }
        if problems.is_empty() {
            problems.extend(self.loops_and_unreachable_nodes());
        }
        problems
    }

    /// Loops (depth-first, reported as the path that closes one) and nodes no caller reaches.
    /// Runs on a menu whose references all resolve.
    fn loops_and_unreachable_nodes(&self) -> Vec<IvrMenuProblem> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            OnPath,
            Done,
        }
        let mut problems = Vec::new();
        let mut marks: BTreeMap<&Name, Mark> = BTreeMap::new();
        // An explicit stack of (node, index of the next exit to follow).
        let mut path: Vec<(&Name, usize)> = vec![(&self.entry, 0)];
        marks.insert(&self.entry, Mark::OnPath);
        while let Some((id, next_exit)) = path.last_mut() {
            let exits = self.nodes[*id].exits();
            let Some((exit, next)) = exits.get(*next_exit) else {
                marks.insert(id, Mark::Done);
                path.pop();
                continue;
            };
            *next_exit += 1;
            let from = *id;
            match marks.get(next) {
                Some(Mark::OnPath) => {
                    let start = path
                        .iter()
                        .position(|(node, _)| *node == *next)
                        .unwrap_or(0);
                    let cycle: Vec<&str> = path[start..]
                        .iter()
                        .map(|(node, _)| node.as_str())
                        .chain([next.as_str()])
                        .collect();
                    problems.push(IvrMenuProblem::new(
                        format!("nodes.{from}.{exit}"),
                        format!("loop: {}", cycle.join(" → ")),
                    ));
                }
                Some(Mark::Done) => {}
                None => {
                    let next = self
                        .nodes
                        .get_key_value(next)
                        .map(|(key, _)| key)
                        .expect("references resolve");
                    marks.insert(next, Mark::OnPath);
                    path.push((next, 0));
                }
            }
        }
        for id in self.nodes.keys() {
            if !marks.contains_key(id) {
                problems.push(IvrMenuProblem::new(
                    format!("nodes.{id}"),
                    format!("unreachable: no path from {} leads here", self.entry),
                ));
            }
        }
        problems
    }

    /// Where a caller of `class` goes on arrival at `at`.
    pub fn enter(&self, class: Option<CallerClass>, at: Timestamp) -> Arrival {
        if let (Some(class), Some(target)) = (class, &self.person_queue)
            && self.straight_to_person.contains(&class)
        {
            return Arrival::StraightToPerson(target.clone());
        }
        let mut walk = Walk::default();
        self.follow(&self.entry, at, &mut walk);
        Arrival::Menu(walk)
    }

    /// What happens when the caller, waiting at `node` after `attempts` failed tries, presses
    /// `keys` (empty: no input before the prompt timed out).
    pub fn press(&self, node: &Name, attempts: u8, keys: &str, at: Timestamp) -> Walk {
        let mut walk = Walk::default();
        let mut node = node.clone();
        let mut attempts = attempts;
        let mut keys: Vec<String> = keys.chars().map(String::from).collect();
        if keys.is_empty() {
            keys.push(String::new());
        }
        for key in keys {
            let Some(IvrNode::Menu {
                choices,
                max_attempts,
                fallback,
                ..
            }) = self.nodes.get(&node)
            else {
                break;
            };
            let chosen = key.chars().next().and_then(|key| choices.get(&key));
            let next = match chosen {
                Some(next) => next.clone(),
                None if attempts + 1 >= *max_attempts => fallback.clone(),
                None => {
                    attempts += 1;
                    walk.steps.push(IvrStep {
                        node_id: node.clone(),
                        input: key,
                        next_node_id: node.clone(),
                    });
                    walk.stop = Some(IvrStop::Waiting {
                        node_id: node.clone(),
                        attempts,
                    });
                    continue;
                }
            };
            walk.steps.push(IvrStep {
                node_id: node.clone(),
                input: key,
                next_node_id: next.clone(),
            });
            attempts = 0;
            node = self.follow(&next, at, &mut walk);
            if !matches!(walk.stop, Some(IvrStop::Waiting { .. })) {
                break;
            }
        }
        walk
    }

    /// Goes from `node` through business-hours checks to the next menu or leaf; returns where
    /// it stopped. The walk is bounded by the node count, so even an unchecked menu ends.
    fn follow(&self, node: &Name, at: Timestamp, walk: &mut Walk) -> Name {
        let mut node = node.clone();
        for _ in 0..=self.nodes.len() {
            match self.nodes.get(&node) {
                Some(IvrNode::Hours {
                    open,
                    when_open,
                    when_closed,
                }) => {
                    let is_open = open.iter().any(|window| window.allows(at));
                    let next = if is_open { when_open } else { when_closed };
                    walk.steps.push(IvrStep {
                        node_id: node.clone(),
                        input: if is_open { "open" } else { "closed" }.to_owned(),
                        next_node_id: next.clone(),
                    });
                    node = next.clone();
                }
                Some(IvrNode::Menu { .. }) => {
                    walk.stop = Some(IvrStop::Waiting {
                        node_id: node.clone(),
                        attempts: 0,
                    });
                    return node;
                }
                Some(IvrNode::Queue(target)) => {
                    walk.stop = Some(IvrStop::Queue(target.clone()));
                    return node;
                }
                Some(IvrNode::SelfService { service, .. }) => {
                    walk.stop = Some(IvrStop::SelfService {
                        node_id: node.clone(),
                        service: service.clone(),
                    });
                    return node;
                }
                None => break,
            }
        }
        walk.stop = None;
        node
    }

    /// What the caller hears at `node`, if anything.
    pub fn prompt(&self, node: &Name) -> Option<&str> {
        match self.nodes.get(node)? {
            IvrNode::Menu { prompt, .. } | IvrNode::SelfService { prompt, .. } => Some(prompt),
            IvrNode::Hours { .. } | IvrNode::Queue(_) => None,
        }
    }
}

fn check_prompt(prompt: &str, field: &str, problems: &mut Vec<IvrMenuProblem>) {
    if prompt.trim().is_empty() {
        problems.push(IvrMenuProblem::new(field, "a prompt is required"));
    } else if prompt.len() > MAX_PROMPT {
        problems.push(IvrMenuProblem::new(
            field,
            format!("at most {MAX_PROMPT} bytes"),
        ));
    }
}

fn check_queue(
    target: &QueueTarget,
    field: &str,
    existing_queues: &BTreeSet<Name>,
    problems: &mut Vec<IvrMenuProblem>,
) {
    if !existing_queues.contains(&target.queue_id) {
        problems.push(IvrMenuProblem::new(
            field,
            format!("unknown queue {}", target.queue_id),
        ));
    }
}

/// One node a caller went through: the node, what left it (keys, or `open`/`closed`), and the
/// node it led to (itself when the prompt is replayed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvrStep {
    /// The node.
    pub node_id: Name,
    /// The key, empty for no input, or `open`/`closed` at business hours.
    pub input: String,
    /// Where it led.
    pub next_node_id: Name,
}

/// Where a walk through the menu stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvrStop {
    /// At a menu, for the caller's keys.
    Waiting {
        /// The menu node.
        node_id: Name,
        /// Failed tries there so far.
        attempts: u8,
    },
    /// In a queue, for a person.
    Queue(QueueTarget),
    /// Served by the IVR.
    SelfService {
        /// The leaf.
        node_id: Name,
        /// The service.
        service: Name,
    },
}

/// The nodes a caller went through and where they stopped (`None` only for an unchecked menu
/// that leads nowhere).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// The nodes gone through.
    pub steps: Vec<IvrStep>,
    /// Where it stopped.
    pub stop: Option<IvrStop>,
}

/// Where an arriving caller goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Past the menu, to a person.
    StraightToPerson(QueueTarget),
    /// Into the menu.
    Menu(Walk),
}

/// Every published version of one menu (version `n` is `versions[n - 1]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IvrMenuVersions {
    /// The versions, oldest first.
    pub versions: Vec<IvrMenu>,
}

impl IvrMenuVersions {
    /// The newest version and its number.
    pub fn latest(&self) -> Option<(u64, &IvrMenu)> {
        self.versions
            .last()
            .map(|menu| (self.versions.len() as u64, menu))
    }

    /// Version `version` (from 1).
    pub fn version(&self, version: u64) -> Option<&IvrMenu> {
        let index = usize::try_from(version.checked_sub(1)?).ok()?;
        self.versions.get(index)
    }
}

/// What can be asked of a menu.
#[derive(Clone, Debug, PartialEq)]
pub enum IvrMenuCommand {
    /// Publishes a new version, if it is sound and differs from the newest.
    Publish {
        /// The menu.
        menu: IvrMenu,
        /// Which of the menu's queues exist (looked up by the caller of the command).
        existing_queues: BTreeSet<Name>,
        /// The version the editor started from, if they want to be told of a newer one.
        expected_version: Option<u64>,
        /// When.
        at: Timestamp,
    },
}

/// What a menu records.
#[derive(Clone, Debug, PartialEq)]
pub enum IvrMenuEvent {
    /// A new version.
    Published {
        /// Its number (from 1).
        version: u64,
        /// The menu.
        menu: IvrMenu,
        /// When.
        at: Timestamp,
    },
}

/// Why a menu was not saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IvrMenuError {
    /// The menu is unsound.
    #[error("the menu has {} problem(s)", .0.len())]
    Invalid(Vec<IvrMenuProblem>),
    /// Someone published another version since the editor loaded theirs.
    #[error("the menu is at version {current}, not {expected}")]
    VersionMismatch {
        /// The newest version.
        current: u64,
        /// The version the editor started from.
        expected: u64,
    },
}

impl Aggregate for IvrMenuVersions {
    const CONTEXT: &'static str = "telephony";
    const TYPE: &'static str = "ivr_menu";
    type Command = IvrMenuCommand;
    type Event = IvrMenuEvent;
    type Error = IvrMenuError;

    fn decide(&self, command: &IvrMenuCommand) -> Result<Vec<IvrMenuEvent>, IvrMenuError> {
        match command {
            IvrMenuCommand::Publish {
                menu,
                existing_queues,
                expected_version,
                at,
            } => {
                let current = self.versions.len() as u64;
                if let Some(expected) = *expected_version
                    && expected != current
                {
                    return Err(IvrMenuError::VersionMismatch { current, expected });
                }
                let problems = menu.problems(existing_queues);
                if !problems.is_empty() {
                    return Err(IvrMenuError::Invalid(problems));
                }
                if self.versions.last() == Some(menu) {
                    return Ok(vec![]);
                }
                Ok(vec![IvrMenuEvent::Published {
                    version: current + 1,
                    menu: menu.clone(),
                    at: *at,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &IvrMenuEvent) {
        match event {
            IvrMenuEvent::Published { menu, .. } => self.versions.push(menu.clone()),
        }
    }
}

/// A caller known by number (aggregate id: the number).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caller {
    /// Their class; `None` for anyone not on record.
    pub class: Option<CallerClass>,
}

/// What can be asked of a caller's record.
#[derive(Clone, Debug, PartialEq)]
pub enum CallerCommand {
    /// Sets (or, with `None`, clears) the class.
    SetClass {
        /// The class.
        class: Option<CallerClass>,
        /// When.
        at: Timestamp,
    },
}

/// What a caller's record holds.
#[derive(Clone, Debug, PartialEq)]
pub enum CallerEvent {
    /// The class changed.
    ClassSet {
        /// The class, `None` when cleared.
        class: Option<CallerClass>,
        /// When.
        at: Timestamp,
    },
}

/// Caller records refuse nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {}

impl Aggregate for Caller {
    const CONTEXT: &'static str = "telephony";
    const TYPE: &'static str = "caller";
    type Command = CallerCommand;
    type Event = CallerEvent;
    type Error = CallerError;

    fn decide(&self, command: &CallerCommand) -> Result<Vec<CallerEvent>, CallerError> {
        match command {
            CallerCommand::SetClass { class, at } if *class != self.class => {
                Ok(vec![CallerEvent::ClassSet {
                    class: *class,
                    at: *at,
                }])
            }
            CallerCommand::SetClass { .. } => Ok(vec![]),
        }
    }

    fn evolve(&mut self, event: &CallerEvent) {
        match event {
            CallerEvent::ClassSet { class, .. } => self.class = *class,
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! A sample menu for the tests of menus and calls.

    use callcenter_kit::testing::name;

    use super::*;

    pub fn queue(queue_id: &str, priority: Priority) -> IvrNode {
        IvrNode::Queue(QueueTarget {
            queue_id: name(queue_id),
            skill: None,
            priority,
        })
    }

    pub fn every_day(start_minute: u16, end_minute: u16) -> CallingHours {
        CallingHours {
            utc_offset_minutes: 0,
            start_minute,
            end_minute,
            weekdays: [true; 7],
        }
    }

    /// Open 08:00–20:00 UTC: 1 repairs, 2 balance (self-service), 9 emergency; fallback general.
    pub fn sample() -> IvrMenu {
        let nodes = [
            (
                "hours",
                IvrNode::Hours {
                    open: vec![every_day(8 * 60, 20 * 60)],
                    when_open: name("main"),
                    when_closed: name("closed"),
                },
            ),
            (
                "main",
                IvrNode::Menu {
                    prompt: "Repairs 1, balance 2, emergencies 9".into(),
                    choices: BTreeMap::from([
                        ('1', name("repairs")),
                        ('2', name("balance")),
                        ('9', name("emergency")),
                    ]),
                    max_attempts: 3,
                    fallback: name("general"),
                },
            ),
            ("repairs", queue("repairs", Priority::Normal)),
            ("general", queue("general", Priority::Normal)),
            ("emergency", queue("general", Priority::Emergency)),
            (
                "balance",
                IvrNode::SelfService {
                    prompt: "Your balance is ...".into(),
                    service: name("balance"),
                },
            ),
            (
                "closed",
                IvrNode::SelfService {
                    prompt: "We are closed; we open at 8".into(),
                    service: name("closed"),
                },
            ),
        ];
        IvrMenu {
            entry: name("hours"),
            nodes: nodes
                .into_iter()
                .map(|(id, node)| (name(id), node))
                .collect(),
            straight_to_person: BTreeSet::from([CallerClass::Elderly, CallerClass::Vip]),
            person_queue: Some(QueueTarget {
                queue_id: name("general"),
                skill: None,
                priority: Priority::Normal,
            }),
        }
    }

    /// `hour`:00 UTC on the test day (2025-11-22, a Saturday).
    pub fn o_clock(hour: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_763_769_600_000 + hour * 3_600_000)
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, given, name};

    use super::fixtures::*;
    use super::*;

    fn queues() -> BTreeSet<Name> {
        BTreeSet::from([name("general"), name("repairs")])
    }

    fn noon() -> Timestamp {
        o_clock(12)
    }

    fn descriptions(menu: &IvrMenu) -> Vec<String> {
        menu.problems(&queues())
            .into_iter()
            .map(|problem| format!("{}: {}", problem.field, problem.description))
            .collect()
    }

    fn set_node(menu: &mut IvrMenu, id: &str, node: IvrNode) {
        menu.nodes.insert(name(id), node);
    }

    #[test]
    fn the_sample_menu_is_sound() {
        assert_eq!(descriptions(&sample()), Vec::<String>::new());
    }

    #[test]
    fn a_menu_with_a_loop_is_rejected_when_saved() {
        let mut menu = sample();
        set_node(
            &mut menu,
            "general",
            IvrNode::Menu {
                prompt: "Still there?".into(),
                choices: BTreeMap::from([('0', name("main"))]),
                max_attempts: 1,
                fallback: name("repairs"),
            },
        );
        assert_eq!(
            descriptions(&menu),
            ["nodes.general.menu.choices.0: loop: main → general → main"]
        );
    }

    #[test]
    fn a_menu_with_a_dead_end_is_rejected_when_saved() {
        let mut menu = sample();
        set_node(
            &mut menu,
            "main",
            IvrNode::Menu {
                prompt: "Nothing to choose".into(),
                choices: BTreeMap::new(),
                max_attempts: 3,
                fallback: name("nowhere"),
            },
        );
        assert_eq!(
            descriptions(&menu),
            [
                "nodes.main.menu.fallback_node_id: dead end: no node nowhere",
                "nodes.main.menu.choices: dead end: a menu needs at least one choice",
            ]
        );
        let mut menu = sample();
        menu.entry = name("start");
        assert_eq!(
            descriptions(&menu),
            ["entry_node_id: dead end: no node start"]
        );
    }

    #[test]
    fn a_menu_naming_an_unknown_queue_is_rejected_when_saved() {
        let mut menu = sample();
        set_node(&mut menu, "repairs", queue("plumbing", Priority::Normal));
        assert_eq!(
            descriptions(&menu),
            ["nodes.repairs.queue.queue_id: unknown queue plumbing"]
        );
        let mut menu = sample();
        menu.person_queue = None;
        assert_eq!(
            descriptions(&menu),
            ["person_queue: callers who go straight to a person need a queue"]
        );
    }

    #[test]
    fn a_node_no_caller_reaches_is_rejected_when_saved() {
        let mut menu = sample();
        set_node(&mut menu, "orphan", queue("general", Priority::Normal));
        assert_eq!(
            descriptions(&menu),
            ["nodes.orphan: unreachable: no path from hours leads here"]
        );
    }

    #[test]
    fn menu_fields_are_checked_when_saved() {
        let mut menu = sample();
        set_node(
            &mut menu,
            "main",
            IvrNode::Menu {
                prompt: " ".into(),
                choices: BTreeMap::from([('x', name("general"))]),
                max_attempts: 0,
                fallback: name("general"),
            },
        );
        set_node(
            &mut menu,
            "hours",
            IvrNode::Hours {
                open: vec![every_day(600, 500)],
                when_open: name("main"),
                when_closed: name("closed"),
            },
        );
        assert_eq!(
            descriptions(&menu),
            [
                "nodes.hours.hours.open.0: need 0 <= start_minute < end_minute <= 1440",
                "nodes.main.menu.prompt: a prompt is required",
                "nodes.main.menu.choices.x: a key is one of 0-9, * and #",
                "nodes.main.menu.max_attempts: between 1 and 5",
            ]
        );
    }

    #[test]
    fn elderly_and_vip_callers_go_straight_to_a_person() {
        let menu = sample();
        for class in [CallerClass::Elderly, CallerClass::Vip] {
            assert_eq!(
                menu.enter(Some(class), noon()),
                Arrival::StraightToPerson(QueueTarget {
                    queue_id: name("general"),
                    skill: None,
                    priority: Priority::Normal,
                })
            );
        }
        assert!(matches!(
            menu.enter(Some(CallerClass::Known), noon()),
            Arrival::Menu(_)
        ));
        assert!(matches!(menu.enter(None, noon()), Arrival::Menu(_)));
    }

    #[test]
    fn outside_business_hours_callers_take_the_closed_branch() {
        let menu = sample();
        let night = o_clock(22);
        assert_eq!(
            menu.enter(None, night),
            Arrival::Menu(Walk {
                steps: vec![IvrStep {
                    node_id: name("hours"),
                    input: "closed".into(),
                    next_node_id: name("closed"),
                }],
                stop: Some(IvrStop::SelfService {
                    node_id: name("closed"),
                    service: name("closed"),
                }),
            })
        );
        let Arrival::Menu(walk) = menu.enter(None, noon()) else {
            panic!("into the menu")
        };
        assert_eq!(
            walk.stop,
            Some(IvrStop::Waiting {
                node_id: name("main"),
                attempts: 0
            })
        );
    }

    #[test]
    fn an_emergency_choice_goes_to_the_front_of_the_queue() {
        let walk = sample().press(&name("main"), 0, "9", noon());
        assert_eq!(
            walk.stop,
            Some(IvrStop::Queue(QueueTarget {
                queue_id: name("general"),
                skill: None,
                priority: Priority::Emergency,
            }))
        );
    }

    #[test]
    fn no_input_or_a_wrong_key_replays_the_prompt_then_falls_back() {
        let menu = sample();
        let first = menu.press(&name("main"), 0, "", noon());
        assert_eq!(
            first.stop,
            Some(IvrStop::Waiting {
                node_id: name("main"),
                attempts: 1
            })
        );
        let second = menu.press(&name("main"), 1, "7", noon());
        assert_eq!(
            second.stop,
            Some(IvrStop::Waiting {
                node_id: name("main"),
                attempts: 2
            })
        );
        let third = menu.press(&name("main"), 2, "", noon());
        assert_eq!(
            third.steps,
            [IvrStep {
                node_id: name("main"),
                input: String::new(),
                next_node_id: name("general"),
            }]
        );
        assert!(matches!(third.stop, Some(IvrStop::Queue(_))));
    }

    #[test]
    fn keys_pressed_ahead_of_a_prompt_serve_the_next_menus() {
        let mut menu = sample();
        set_node(
            &mut menu,
            "repairs",
            IvrNode::Menu {
                prompt: "Water 1, power 2".into(),
                choices: BTreeMap::from([('1', name("water")), ('2', name("general"))]),
                max_attempts: 2,
                fallback: name("general"),
            },
        );
        set_node(&mut menu, "water", queue("repairs", Priority::Normal));
        assert_eq!(descriptions(&menu), Vec::<String>::new());
        let walk = menu.press(&name("main"), 0, "11", noon());
        assert_eq!(walk.steps.len(), 2);
        assert_eq!(walk.steps[1].next_node_id, name("water"));
        assert!(
            matches!(walk.stop, Some(IvrStop::Queue(ref target)) if target.queue_id == name("repairs"))
        );
    }

    #[test]
    fn menus_are_versioned_and_saving_the_same_menu_again_changes_nothing() {
        let publish = |menu: IvrMenu, expected_version| IvrMenuCommand::Publish {
            menu,
            existing_queues: queues(),
            expected_version,
            at: at(1),
        };
        let first = IvrMenuEvent::Published {
            version: 1,
            menu: sample(),
            at: at(1),
        };
        given::<IvrMenuVersions>([])
            .when(publish(sample(), Some(0)))
            .then([first.clone()]);
        given::<IvrMenuVersions>([first.clone()])
            .when(publish(sample(), None))
            .then([]);
        let mut changed = sample();
        changed.straight_to_person.clear();
        given::<IvrMenuVersions>([first.clone()])
            .when(publish(changed.clone(), Some(1)))
            .then([IvrMenuEvent::Published {
                version: 2,
                menu: changed.clone(),
                at: at(1),
            }]);
        given::<IvrMenuVersions>([first])
            .when(publish(changed, Some(0)))
            .then_error(IvrMenuError::VersionMismatch {
                current: 1,
                expected: 0,
            });
        let mut broken = sample();
        broken.entry = name("nowhere");
        let refused = given::<IvrMenuVersions>([]).when(publish(broken, None));
        refused.then_error(IvrMenuError::Invalid(vec![IvrMenuProblem::new(
            "entry_node_id",
            "dead end: no node nowhere",
        )]));
    }

    #[test]
    fn a_caller_class_is_set_once_and_cleared() {
        let vip = CallerEvent::ClassSet {
            class: Some(CallerClass::Vip),
            at: at(1),
        };
        given::<Caller>([])
            .when(CallerCommand::SetClass {
                class: Some(CallerClass::Vip),
                at: at(1),
            })
            .then([vip.clone()]);
        given::<Caller>([vip.clone()])
            .when(CallerCommand::SetClass {
                class: Some(CallerClass::Vip),
                at: at(2),
            })
            .then([]);
        given::<Caller>([vip])
            .when(CallerCommand::SetClass {
                class: None,
                at: at(2),
            })
            .then([CallerEvent::ClassSet {
                class: None,
                at: at(2),
            }]);
    }
}

#[cfg(test)]
mod properties {
    use callcenter_kit::testing::name;
    use proptest::prelude::*;

    use super::fixtures::{every_day, o_clock, queue};
    use super::*;

    /// A node's kind and its exits as indexes into the node list (any index: loops may happen).
    #[derive(Clone, Debug)]
    enum Shape {
        Menu(Vec<usize>, usize),
        Hours(usize, usize),
        Queue,
        SelfService,
    }

    fn shape(nodes: usize) -> impl Strategy<Value = Shape> {
        prop_oneof![
            (proptest::collection::vec(0..nodes, 1..4), 0..nodes)
                .prop_map(|(choices, fallback)| Shape::Menu(choices, fallback)),
            (0..nodes, 0..nodes).prop_map(|(open, closed)| Shape::Hours(open, closed)),
            Just(Shape::Queue),
            Just(Shape::SelfService),
        ]
    }

    fn menus() -> impl Strategy<Value = Vec<Shape>> {
        (1..9_usize).prop_flat_map(|nodes| proptest::collection::vec(shape(nodes), nodes))
    }

    /// Menus without loops: every exit leads to a later node, and the last node is a leaf.
    fn loop_free_menus() -> impl Strategy<Value = Vec<Shape>> {
        menus().prop_map(|shapes| {
            let count = shapes.len();
            let later = |from: usize, to: usize| from + 1 + to % (count - from - 1);
            shapes
                .into_iter()
                .enumerate()
                .map(|(index, shape)| match shape {
                    _ if index + 1 == count => Shape::SelfService,
                    Shape::Menu(choices, fallback) => Shape::Menu(
                        choices.into_iter().map(|to| later(index, to)).collect(),
                        later(index, fallback),
                    ),
                    Shape::Hours(open, closed) => {
                        Shape::Hours(later(index, open), later(index, closed))
                    }
                    leaf => leaf,
                })
                .collect()
        })
    }

    fn id(index: usize) -> Name {
        name(&format!("n{index}"))
    }

    fn build(shapes: &[Shape]) -> IvrMenu {
        let nodes = shapes.iter().enumerate().map(|(index, shape)| {
            let node = match shape {
                Shape::Menu(choices, fallback) => IvrNode::Menu {
                    prompt: "Choose".into(),
                    choices: choices
                        .iter()
                        .enumerate()
                        .map(|(key, next)| (char::from(b'1' + key as u8), id(*next)))
                        .collect(),
                    max_attempts: 2,
                    fallback: id(*fallback),
                },
                Shape::Hours(open, closed) => IvrNode::Hours {
                    open: vec![every_day(8 * 60, 20 * 60)],
                    when_open: id(*open),
                    when_closed: id(*closed),
                },
                Shape::Queue => queue("general", Priority::Normal),
                Shape::SelfService => IvrNode::SelfService {
                    prompt: "Served".into(),
                    service: name("info"),
                },
            };
            (id(index), node)
        });
        IvrMenu {
            entry: id(0),
            nodes: nodes.collect(),
            straight_to_person: BTreeSet::new(),
            person_queue: None,
        }
    }

    /// Sound by brute force: every node reachable from the entry, and peeling off nodes whose
    /// exits are all peeled leaves nothing (no cycle).
    fn sound(shapes: &[Shape]) -> bool {
        let exits = |shape: &Shape| match shape {
            Shape::Menu(choices, fallback) => choices.iter().copied().chain([*fallback]).collect(),
            Shape::Hours(open, closed) => vec![*open, *closed],
            Shape::Queue | Shape::SelfService => vec![],
        };
        let mut reached = BTreeSet::from([0]);
        let mut frontier = vec![0];
        while let Some(node) = frontier.pop() {
            for next in exits(&shapes[node]) {
                if reached.insert(next) {
                    frontier.push(next);
                }
            }
        }
        let mut left: BTreeSet<usize> = (0..shapes.len()).collect();
        loop {
            let peelable: Vec<usize> = left
                .iter()
                .copied()
                .filter(|node| {
                    exits(&shapes[*node])
                        .iter()
                        .all(|next| !left.contains(next))
                })
                .collect();
            if peelable.is_empty() {
                break;
            }
            for node in peelable {
                left.remove(&node);
            }
        }
        reached.len() == shapes.len() && left.is_empty()
    }

    proptest! {
        /// A menu is saved exactly when it has no loop and no node that nobody reaches.
        #[test]
        fn a_menu_is_accepted_exactly_when_it_has_no_loop_and_no_unreachable_node(
            shapes in menus(),
        ) {
            let problems = build(&shapes).problems(&BTreeSet::from([name("general")]));
            prop_assert_eq!(problems.is_empty(), sound(&shapes), "{:?}", problems);
        }

        /// In an accepted menu, whatever the caller presses, the walk ends at a menu waiting for
        /// keys or at a leaf, and never replays a prompt more often than the menu allows.
        #[test]
        fn in_an_accepted_menu_every_walk_ends_at_a_menu_or_a_leaf(
            shapes in loop_free_menus(),
            presses in proptest::collection::vec("[0-9*#]{0,3}", 1..12),
            hour in 0..24_i64,
        ) {
            let mut menu = build(&shapes);
            // Drop the nodes nobody reaches, which the menu check refuses.
            let unreachable: BTreeSet<Name> = menu
                .loops_and_unreachable_nodes()
                .iter()
                .filter_map(|problem| problem.field.strip_prefix("nodes."))
                .map(name)
                .collect();
            menu.nodes.retain(|node_id, _| !unreachable.contains(node_id));
            prop_assert_eq!(menu.problems(&BTreeSet::from([name("general")])), vec![]);
            let Arrival::Menu(walk) = menu.enter(None, o_clock(hour)) else {
                unreachable!("nobody skips this menu");
            };
            let mut stop = walk.stop;
            for keys in presses {
                match stop.clone() {
                    Some(IvrStop::Waiting { node_id, attempts }) => {
                        let at_a_menu =
                            matches!(menu.nodes.get(&node_id), Some(IvrNode::Menu { .. }));
                        prop_assert!(at_a_menu, "waiting at {}", node_id);
                        prop_assert!(attempts < 2);
                        let walk = menu.press(&node_id, attempts, &keys, o_clock(hour));
                        prop_assert!(walk.steps.len() <= keys.len().max(1) * shapes.len());
                        stop = walk.stop;
                    }
                    Some(IvrStop::Queue(_) | IvrStop::SelfService { .. }) => break,
                    None => prop_assert!(false, "a walk stopped nowhere"),
                }
            }
        }
    }
}
