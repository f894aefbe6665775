//! A dialled number (DNIS): which tenant it reaches and the queue it leads to there.
//!
//! A number reaches one tenant only: [`NumberClaim`] records its owner under the platform tenant,
//! so a SIP INVITE for the number finds its tenant, and a second tenant cannot assign it.

use callcenter_kit::{Aggregate, Name, TenantId, Timestamp};

/// A telephone number: an optional `+` then 1 to 32 of `0-9 * #`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Checks and wraps a number.
    pub fn parse(value: &str) -> Result<Self, String> {
        if callcenter_platform::validate::is_phone_number(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(callcenter_platform::validate::PHONE_NUMBER_RULE.into())
        }
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as an aggregate id (`+` becomes `p`, `*` `s`, `#` `h`).
    pub fn as_id(&self) -> Name {
        let id: String = self
            .0
            .chars()
            .map(|c| match c {
                '+' => 'p',
                '*' => 's',
                '#' => 'h',
                digit => digit,
            })
            .collect();
        Name::new(id).expect("a phone number maps to a valid name")
    }
}

/// Where callers of a number go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberRoute {
    /// Straight into a queue.
    Queue(Name),
    /// Into a voice menu (its newest version when the call arrives).
    Menu(Name),
}

/// A dialled number's configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Number {
    /// Where callers of this number go.
    pub route: Option<NumberRoute>,
}

/// What can be asked of a number.
#[derive(Clone, Debug, PartialEq)]
pub enum NumberCommand {
    /// Makes the number lead to a queue or a menu.
    Assign {
        /// Where.
        route: NumberRoute,
        /// When.
        at: Timestamp,
    },
}

/// What a number records.
#[derive(Clone, Debug, PartialEq)]
pub enum NumberEvent {
    /// The number now leads to a queue or a menu.
    Assigned {
        /// Where.
        route: NumberRoute,
        /// When.
        at: Timestamp,
    },
}

/// Numbers refuse nothing yet; the type keeps the aggregate's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {}

impl Aggregate for Number {
    const CONTEXT: &'static str = "telephony";
    const TYPE: &'static str = "number";
    type Command = NumberCommand;
    type Event = NumberEvent;
    type Error = NumberError;

    fn decide(&self, command: &NumberCommand) -> Result<Vec<NumberEvent>, NumberError> {
        match command {
            NumberCommand::Assign { route, at } => {
                if self.route.as_ref() == Some(route) {
                    return Ok(vec![]);
                }
                Ok(vec![NumberEvent::Assigned {
                    route: route.clone(),
                    at: *at,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &NumberEvent) {
        match event {
            NumberEvent::Assigned { route, .. } => self.route = Some(route.clone()),
        }
    }
}

/// Which tenant a phone number reaches; kept under [`callcenter_kit::platform_tenant`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NumberClaim {
    /// The tenant the number belongs to.
    pub owner: Option<TenantId>,
}

/// What can be asked of a number's claim.
#[derive(Clone, Debug, PartialEq)]
pub enum NumberClaimCommand {
    /// Makes the number reach `tenant`, unless another tenant holds it.
    Claim {
        /// The tenant.
        tenant: TenantId,
        /// When.
        at: Timestamp,
    },
}

/// What a number's claim records.
#[derive(Clone, Debug, PartialEq)]
pub enum NumberClaimEvent {
    /// The number now reaches `tenant`.
    Claimed {
        /// The tenant.
        tenant: TenantId,
        /// When.
        at: Timestamp,
    },
}

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberClaimError {
    /// Another tenant holds the number.
    #[error("the number belongs to another tenant")]
    Taken,
}

impl Aggregate for NumberClaim {
    const CONTEXT: &'static str = "telephony";
    const TYPE: &'static str = "number_claim";
    type Command = NumberClaimCommand;
    type Event = NumberClaimEvent;
    type Error = NumberClaimError;

    fn decide(
        &self,
        command: &NumberClaimCommand,
    ) -> Result<Vec<NumberClaimEvent>, NumberClaimError> {
        match command {
            NumberClaimCommand::Claim { tenant, at } => match &self.owner {
                Some(owner) if owner == tenant => Ok(vec![]),
                Some(_) => Err(NumberClaimError::Taken),
                None => Ok(vec![NumberClaimEvent::Claimed {
                    tenant: tenant.clone(),
                    at: *at,
                }]),
            },
        }
    }

    fn evolve(&mut self, event: &NumberClaimEvent) {
        match event {
            NumberClaimEvent::Claimed { tenant, .. } => self.owner = Some(tenant.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::given;

    use super::*;

    #[test]
    fn phone_numbers_are_digits_with_an_optional_plus() {
        for good in ["4000", "+8613800138000", "*99#"] {
            assert!(PhoneNumber::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "+", "40 00", "abc", &"1".repeat(33)] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PhoneNumber::parse("+86*1#").unwrap().as_id().as_str(),
            "p86s1h"
        );
    }

    #[test]
    fn assigning_a_number_again_to_the_same_queue_changes_nothing() {
        let at = Timestamp::from_unix_millis(1);
        let general = NumberRoute::Queue(Name::new("general").unwrap());
        let assigned = NumberEvent::Assigned {
            route: general.clone(),
            at,
        };
        given::<Number>([assigned.clone()])
            .when(NumberCommand::Assign { route: general, at })
            .then([]);
        let menu = NumberRoute::Menu(Name::new("main").unwrap());
        given::<Number>([assigned])
            .when(NumberCommand::Assign {
                route: menu.clone(),
                at,
            })
            .then([NumberEvent::Assigned { route: menu, at }]);
    }

    #[test]
    fn a_number_reaches_one_tenant_only() {
        let at = Timestamp::from_unix_millis(1);
        let acme = Name::new("acme").unwrap();
        let claimed = NumberClaimEvent::Claimed {
            tenant: acme.clone(),
            at,
        };
        given::<NumberClaim>([])
            .when(NumberClaimCommand::Claim {
                tenant: acme.clone(),
                at,
            })
            .then([claimed.clone()]);
        given::<NumberClaim>([claimed.clone()])
            .when(NumberClaimCommand::Claim { tenant: acme, at })
            .then([]);
        given::<NumberClaim>([claimed])
            .when(NumberClaimCommand::Claim {
                tenant: Name::new("globex").unwrap(),
                at,
            })
            .then_error(NumberClaimError::Taken);
    }
}
