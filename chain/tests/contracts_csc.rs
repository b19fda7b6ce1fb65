//! The cooperative sensing contract through real blocks: the happy path of a round (open,
//! register, buy-in, selection, anonymous uploads, fusion, reveals, settlement, removal) with
//! exact balances, trust and events; selection order with buy-ins; the protective busy
//! defaults; settlement policies; reveal proofs against swapped or copied commitments; and one
//! test per typed rejection, each checking that a
//! rejected call changes nothing but its fee and nonce (or, for an anonymous upload, that the
//! block carrying it is invalid).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contracts_support;

use chain::contracts::csc::{self, AnonymousUpload};
use chain::contracts::csc::{RegistrationStatus, TaskPhase};
use chain::contracts::events::{ContractEvent, FuseReason, Payment, SensorOutcome, TrustUpdate};
use chain::contracts::{
    Call, REGISTRY, SkipScope, SlashDestination, auction_contract, task_contract,
};
use chain::contracts::{GridCell, SensingReport};
use chain::crypto::{Address, IdentityCommitment, KeyImage, PublicKey, Ring, Salt, dleq};
use chain::tx::TxPayload;
use chain::{Error, SignedTx};
use contracts_support::{Lab, chain_params, fx, test_contracts};
use fusion::{PaperTrust, SelectionScheme, TrustModel, TrustRecord};

const ISSUER: usize = 0;
const MNO: usize = 8;
const POOR: usize = 9;

/// 0 issuer (0.9); 1, 2, 3 trusted (0.8, 0.7, 0.6); 4, 5 below threshold (0.3, 0.2);
/// 6, 7 MOs; 8 MNO; 9 trusted but poor (balance 50 < deposit 100).
fn lab_with(edit: impl FnOnce(&mut chain::contracts::ContractParams)) -> Lab {
    let trusts = [
        "0.9", "0.8", "0.7", "0.6", "0.3", "0.2", "0", "0", "0", "0.6",
    ]
    .map(fx);
    let mut balances = [10_000u128; 10];
    balances[POOR] = 50;
    let mno = chain::devnet::devnet_key(MNO as u64).unwrap().address();
    let mut contracts = test_contracts(mno);
    edit(&mut contracts);
    Lab::new(chain_params(contracts), &trusts, &balances)
}

fn lab() -> Lab {
    lab_with(|_| {})
}

/// Opens task 1 on channel 0 in block 1 with registrations from `sensors` in the same block.
fn open_with(lab: &mut Lab, sensors: &[usize]) -> u64 {
    let mut txs = vec![lab.call(ISSUER, REGISTRY, &Call::Open { channel: 0 })];
    for &s in sensors {
        txs.push(lab.call(s, task_contract(1), &Call::Register));
    }
    let applied = lab.block(&txs);
    assert!(
        applied.receipt.failed.is_empty(),
        "{:?}",
        applied.receipt.failed
    );
    1
}

/// As [`open_with`], then the selection block: the next block (height 3) takes uploads.
fn open_for_uploads(lab: &mut Lab, sensors: &[usize]) -> u64 {
    let task = open_with(lab, sensors);
    lab.skip(1);
    task
}

/// Opens task 1 with sensors 1, 2 and 3 and includes 1's busy upload at height 3; returns the
/// task and 1's salt. With the default windows the next block (height 4) takes reveals.
fn one_busy_upload(lab: &mut Lab) -> (u64, Salt) {
    let task = open_for_uploads(lab, &[1, 2, 3]);
    let (upload, salt) = salted_upload(lab, 1, task, true);
    lab.block(&[upload]);
    (task, salt)
}

/// Includes `tx`, which must fail; asserts that it charged the sender exactly its fee (1) and
/// one nonce (the tests pick heights where the hook pays the sender nothing), and returns its
/// error.
fn failed_call(lab: &mut Lab, sender: usize, tx: SignedTx) -> Error {
    let address = lab.address(sender);
    let (balance, nonce) = (lab.state.balance(&address), lab.state.nonce(&address));
    let applied = lab.block(&[tx]);
    assert_eq!(lab.state.nonce(&address), nonce + 1);
    if sender != lab.miner {
        assert_eq!(lab.state.balance(&address), balance - 1);
    }
    applied.failure()
}

/// As [`failed_call`], and asserts that `task`'s stored state is unchanged.
fn failed_call_leaving_task(lab: &mut Lab, sender: usize, task: u64, tx: SignedTx) -> Error {
    let before = lab.task(task).unwrap();
    let error = failed_call(lab, sender, tx);
    assert_eq!(
        lab.task(task).unwrap(),
        before,
        "a refused call changes nothing"
    );
    error
}

/// [`failed_call`] of `sender`'s `Open` of `channel` on the registry.
fn failed_open(lab: &mut Lab, sender: usize, channel: u32) -> Error {
    let tx = lab.call(sender, REGISTRY, &Call::Open { channel });
    failed_call(lab, sender, tx)
}

/// [`failed_call`] of `sender`'s `call` to `task`.
fn failed_task_call(lab: &mut Lab, sender: usize, task: u64, call: Call) -> Error {
    let tx = lab.call(sender, task_contract(task), &call);
    failed_call(lab, sender, tx)
}

/// [`failed_call`] of `sender`'s reveal of `salt` for `task`.
fn failed_reveal(lab: &mut Lab, sender: usize, task: u64, salt: Salt) -> Error {
    let tx = lab.reveal(sender, task, salt);
    failed_call(lab, sender, tx)
}

/// Applies a block carrying exactly `tx` (bypassing the builder), which must be invalid;
/// returns the rejected transaction's index and error.
fn forced_block_rejection(lab: &mut Lab, tx: SignedTx) -> (usize, Error) {
    let err = lab.force_block(vec![tx]).unwrap_err();
    let Error::TxRejected { index, source, .. } = err else {
        panic!("{err:?}")
    };
    (index, *source)
}

/// A call from `sender` to `task` with raw call `data` (fee 1).
fn raw_task_call(lab: &mut Lab, sender: usize, task: u64, data: Vec<u8>) -> SignedTx {
    lab.signed(
        sender,
        1,
        TxPayload::Contract(chain::tx::ContractCall {
            contract: task_contract(task),
            data,
        }),
    )
}

/// Buy-ins from `buyers` for `task`, in order.
fn buy_ins(lab: &mut Lab, task: u64, buyers: &[usize]) -> Vec<SignedTx> {
    buyers
        .iter()
        .map(|&i| lab.call(i, task_contract(task), &Call::BuyIn))
        .collect()
}

/// Key `i`'s upload of `decision` for `task` under a fresh salt; the upload and the salt.
fn salted_upload(lab: &mut Lab, i: usize, task: u64, decision: bool) -> (SignedTx, Salt) {
    let salt = lab.salt();
    (lab.upload(i, task, decision, &salt), salt)
}

/// One upload per `(sensor, decision)` for `task`, each under a fresh salt (all salts drawn
/// first); the uploads and their salts, in order.
fn salted_uploads(lab: &mut Lab, task: u64, votes: &[(usize, bool)]) -> (Vec<SignedTx>, Vec<Salt>) {
    let salts: Vec<Salt> = votes.iter().map(|_| lab.salt()).collect();
    let uploads = votes
        .iter()
        .zip(&salts)
        .map(|(&(i, decision), salt)| lab.upload(i, task, decision, salt))
        .collect();
    (uploads, salts)
}

/// Reveals of `salts` by `sensors` (paired in order) for `task`.
fn reveals(lab: &mut Lab, task: u64, sensors: &[usize], salts: &[Salt]) -> Vec<SignedTx> {
    sensors
        .iter()
        .zip(salts)
        .map(|(&i, salt)| lab.reveal(i, task, salt.clone()))
        .collect()
}

/// `task`'s ring as stored.
fn task_ring(lab: &Lab, task: u64) -> Ring {
    Ring::from_bytes(&lab.task(task).unwrap().ring.concat()).unwrap()
}

/// Key `i`'s trust record.
fn trust_record(lab: &Lab, i: usize) -> TrustRecord {
    lab.state.account(&lab.address(i)).unwrap().trust
}

/// The fields of a `Selected` event.
struct Selection {
    sensors: Vec<Address>,
    ring: Vec<PublicKey>,
    refunds: Vec<Payment>,
}

/// The `Selected` event among `events`.
fn selection(events: &[ContractEvent]) -> Selection {
    events
        .iter()
        .find_map(|e| match e {
            ContractEvent::Selected {
                sensors,
                ring,
                refunds,
                ..
            } => Some(Selection {
                sensors: sensors.clone(),
                ring: ring.clone(),
                refunds: refunds.clone(),
            }),
            _ => None,
        })
        .unwrap()
}

/// The fields of a `Settled` event, but task and channel.
struct Settlement {
    busy: bool,
    trust: Vec<TrustUpdate>,
    skipped: u64,
    refunds: Vec<Payment>,
    slashes: Vec<Payment>,
    rewards: Vec<Payment>,
    minted: u128,
    to_mno: u128,
}

/// The `Settled` event among `events`.
fn settlement(events: &[ContractEvent]) -> Settlement {
    events
        .iter()
        .find_map(|e| match e {
            ContractEvent::Settled {
                busy,
                trust,
                skipped,
                refunds,
                slashes,
                rewards,
                minted,
                to_mno,
                ..
            } => Some(Settlement {
                busy: *busy,
                trust: trust.clone(),
                skipped: *skipped,
                refunds: refunds.clone(),
                slashes: slashes.clone(),
                rewards: rewards.clone(),
                minted: *minted,
                to_mno: *to_mno,
            }),
            _ => None,
        })
        .unwrap()
}

/// The protective default: `task` on channel 0 fused busy from no reports, for `reason`.
fn busy_by_default(task: u64, reason: FuseReason) -> ContractEvent {
    ContractEvent::Fused {
        task,
        channel: 0,
        busy: true,
        reports: 0,
        busy_reports: 0,
        reason,
    }
}

fn model() -> PaperTrust {
    PaperTrust::default()
}

#[test]
fn happy_path_round_with_buy_in_fusion_reveal_and_settlement() {
    let mut lab = lab();
    let supply0 = lab.supply();
    let task = open_with(&mut lab, &[1, 2, 4, 5]);
    let t = lab.task(task).unwrap();
    assert_eq!(
        (t.channel, t.round, t.phase),
        (0, 0, TaskPhase::Registration)
    );
    assert_eq!(
        (
            t.timeline.registration_close,
            t.timeline.deadline,
            t.timeline.reveal_end
        ),
        (2, 3, 4)
    );
    assert_eq!(lab.balance(1), 10_000 - 1 - 100);

    // Block 2: buy-ins; selection at its end: 1, 2 trusted, then the best buy-in (4).
    let txs = buy_ins(&mut lab, task, &[4, 5]);
    let selected = selection(&lab.block(&txs).events());
    let (a1, a2, a4, a5) = (
        lab.address(1),
        lab.address(2),
        lab.address(4),
        lab.address(5),
    );
    assert_eq!(selected.sensors, vec![a1, a2, a4]);
    assert_eq!(
        selected.refunds,
        vec![Payment {
            account: a5,
            amount: 150
        }]
    );
    let ring = Ring::new([1, 2, 4].map(|i| *lab.keys[i].public_key())).unwrap();
    assert_eq!(selected.ring, ring.members());
    assert_eq!(lab.balance(5), 10_000 - 2);

    // Block 3: anonymous uploads; fusion at its end (2 busy of 3: busy).
    let (uploads, salts) = salted_uploads(&mut lab, task, &[(1, true), (2, true), (4, false)]);
    let applied = lab.block(&uploads);
    assert!(applied.rejected.is_empty());
    let events = applied.events();
    let accepted = events
        .iter()
        .filter(|e| matches!(e, ContractEvent::ReportAccepted { .. }))
        .count();
    assert_eq!(accepted, 3);
    assert!(events.contains(&ContractEvent::Fused {
        task,
        channel: 0,
        busy: true,
        reports: 3,
        busy_reports: 2,
        reason: FuseReason::Rule,
    }));
    // Busy: no auction.
    assert!(lab.auction(task).is_none());

    // Block 4: reveals; settlement at its end.
    let txs = reveals(&mut lab, task, &[1, 2, 4], &salts);
    let before: Vec<TrustRecord> = [1, 2, 4, 3].map(|i| trust_record(&lab, i)).to_vec();
    let events = lab.block(&txs).events();
    let revealed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ContractEvent::Revealed { account, cell, .. } => Some((*account, *cell)),
            _ => None,
        })
        .collect();
    assert_eq!(revealed.len(), 3);
    assert_eq!(revealed[2].0, a4);
    assert_eq!(revealed[2].1.x, 4);
    let settled = settlement(&events);
    assert!(settled.busy);
    // Consistent 1 and 2 get their 100 back and 15 minted + 150 / 2 slashed each.
    assert_eq!(
        settled.refunds,
        vec![
            Payment {
                account: a1,
                amount: 100
            },
            Payment {
                account: a2,
                amount: 100
            }
        ]
    );
    assert_eq!(
        settled.slashes,
        vec![Payment {
            account: a4,
            amount: 150
        }]
    );
    assert_eq!(
        settled.rewards,
        vec![
            Payment {
                account: a1,
                amount: 90
            },
            Payment {
                account: a2,
                amount: 90
            }
        ]
    );
    assert_eq!((settled.minted, settled.to_mno), (30, 0));
    // 10 accounts, 3 participated, 7 skipped.
    assert_eq!(settled.skipped, 7);
    let outcomes: Vec<_> = settled
        .trust
        .iter()
        .map(|u| (u.account, u.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (a1, SensorOutcome::Right),
            (a2, SensorOutcome::Right),
            (a4, SensorOutcome::Wrong)
        ]
    );
    // Trust follows fusion's model exactly.
    let m = model();
    for (k, &(i, right)) in [(1usize, true), (2, true), (4, false)].iter().enumerate() {
        let mut r = before[k];
        m.participate(&mut r, right);
        assert_eq!(trust_record(&lab, i), r);
    }
    let mut r3 = before[3];
    m.skip_round(&mut r3);
    assert_eq!(trust_record(&lab, 3), r3);
    // Balances: fees of 1 per call, deposits back or slashed, rewards.
    assert_eq!(lab.balance(1), 10_000 - 2 + 90);
    assert_eq!(lab.balance(4), 10_000 - 3 - 150);
    assert_eq!(lab.supply(), supply0 + 30);
    assert_eq!(lab.task(task).unwrap().phase, TaskPhase::Settled);
    assert_eq!(lab.task(task).unwrap().locked().unwrap(), 0);

    // The settled record is kept `retain` (2) blocks, then removed.
    let events: Vec<_> = lab.skip(2).into_iter().map(|r| r.event).collect();
    assert_eq!(events, vec![ContractEvent::TaskClosed { task }]);
    assert!(lab.task(task).is_none());
}

#[test]
fn uploads_are_anonymous_until_the_reveal() {
    let mut lab = lab();
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    let (tx, _) = salted_upload(&mut lab, 2, task, true);
    let bytes = chain::codec::Encode::to_bytes(&tx);
    // The signer's address appears nowhere; its key only as one of the ring's members.
    let address = lab.address(2);
    assert!(!bytes.windows(20).any(|w| w == address.as_bytes()));
    let key = lab.keys[2].public_key().to_bytes();
    assert_eq!(bytes.windows(33).filter(|w| *w == key).count(), 1);
    assert_eq!(tx.tx.sender, chain::tx::anonymous_sender().unwrap());
    let events = lab.block(&[tx]).events();
    match &events[0] {
        ContractEvent::ReportAccepted {
            task: t, decision, ..
        } => {
            assert_eq!((*t, *decision), (task, true));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn selection_orders_trusted_then_buy_ins_by_trust_then_registration() {
    // K = 3; trusted 3 (0.6) and 2 (0.7); buy-ins 5 (0.2) registered before 4 (0.3).
    let mut lab = lab();
    let task = open_with(&mut lab, &[3, 5, 4, 2]);
    let txs = buy_ins(&mut lab, task, &[5, 4]);
    let sensors = selection(&lab.block(&txs).events()).sensors;
    assert_eq!(
        sensors,
        vec![lab.address(2), lab.address(3), lab.address(4)]
    );
    let t = lab.task(task).unwrap();
    let status: Vec<_> = t.registrations.iter().map(|r| r.status).collect();
    use RegistrationStatus::*;
    assert_eq!(status, vec![Selected, Released, Selected, Selected]);
    // The unselected buy-in got deposit and buy-in back.
    assert_eq!(lab.balance(5), 10_000 - 2);
}

#[test]
fn below_threshold_without_buy_in_is_not_selected() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[1, 2, 4]);
    let sensors = selection(&lab.block(&[]).events()).sensors;
    assert_eq!(sensors, vec![lab.address(1), lab.address(2)]);
    assert_eq!(lab.task(task).unwrap().ring.len(), 2);
}

#[test]
fn random_selection_is_deterministic_and_takes_no_buy_ins() {
    let mut lab = lab_with(|c| c.csc.selection = SelectionScheme::Random);
    let task = open_with(&mut lab, &[1, 2, 3, 4, 5]);
    let tx = lab.call(4, task_contract(task), &Call::BuyIn);
    let applied = lab.block(&[tx]);
    assert!(matches!(
        applied.failure(),
        Error::BuyInRefused {
            reason: "the selection scheme takes no buy-ins",
            ..
        }
    ));
    let t = lab.task(task).unwrap();
    let selected = t
        .registrations
        .iter()
        .filter(|r| r.status == RegistrationStatus::Selected)
        .count();
    assert_eq!(selected, 3);
}

#[test]
fn too_few_selected_means_no_ring_refunds_and_busy() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[1, 4]);
    let selected = selection(&lab.block(&[]).events());
    assert!(selected.sensors.is_empty() && selected.ring.is_empty());
    assert_eq!(selected.refunds.len(), 2);
    assert_eq!(lab.balance(1), 10_000 - 1);
    let events = lab.block(&[]).events();
    assert!(events.contains(&busy_by_default(task, FuseReason::TooFewSensors)));
}

#[test]
fn no_reports_fuse_busy_and_silent_sensors_are_slashed() {
    let mut lab = lab();
    let supply0 = lab.supply();
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    let events = lab.block(&[]).events();
    assert!(events.contains(&busy_by_default(task, FuseReason::NoReports)));
    let settled = settlement(&lab.block(&[]).events());
    assert!(
        settled
            .trust
            .iter()
            .all(|u| u.outcome == SensorOutcome::Silent)
    );
    assert_eq!(settled.slashes.len(), 3);
    assert!(settled.rewards.is_empty());
    // Nobody consistent: nothing minted, the slashes go to the MNO.
    assert_eq!((settled.minted, settled.to_mno), (0, 300));
    assert_eq!(lab.balance(MNO), 10_000 + 300);
    assert_eq!(lab.supply(), supply0);
}

#[test]
fn unrevealed_report_is_slashed_and_slashes_can_go_to_the_mno() {
    let mut lab = lab_with(|c| {
        c.csc.slash_to = SlashDestination::Mno;
        c.csc.reward_per_round = 31;
    });
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    let (uploads, salts) = salted_uploads(&mut lab, task, &[(1, false), (2, false), (3, false)]);
    lab.block(&uploads);
    // 3 never reveals.
    let txs = reveals(&mut lab, task, &[1, 2], &salts);
    let settled = settlement(&lab.block(&txs).events());
    assert!(!settled.busy);
    assert_eq!(settled.trust[2].outcome, SensorOutcome::Silent);
    assert_eq!(settled.slashes[0].account, lab.address(3));
    // 31 / 2 = 15 each, the odd unit is not minted; the slash goes to the MNO.
    assert_eq!(
        settled.rewards.iter().map(|p| p.amount).collect::<Vec<_>>(),
        vec![15, 15]
    );
    assert_eq!((settled.minted, settled.to_mno), (30, 100));
}

#[test]
fn skip_scope_registered_leaves_bystanders_alone() {
    let mut lab = lab_with(|c| c.skip_scope = SkipScope::Registered);
    let task = open_for_uploads(&mut lab, &[1, 2, 4]);
    let bystander = trust_record(&lab, 3);
    let unselected = trust_record(&lab, 4);
    lab.skip(2);
    let _ = task;
    assert_eq!(trust_record(&lab, 3), bystander);
    let mut r = unselected;
    model().skip_round(&mut r);
    assert_eq!(trust_record(&lab, 4), r);
}

// ---- one test per typed rejection ----

#[test]
fn open_by_non_issuer_is_rejected() {
    let mut lab = lab();
    assert_eq!(
        failed_open(&mut lab, 1, 0),
        Error::NotTaskIssuer {
            expected: lab.address(ISSUER),
            got: lab.address(1)
        }
    );
    assert!(lab.task(1).is_none());
}

#[test]
fn open_unknown_channel_is_rejected() {
    let mut lab = lab();
    assert_eq!(
        failed_open(&mut lab, ISSUER, 2),
        Error::UnknownChannel {
            channel: 2,
            channels: 2
        }
    );
}

#[test]
fn second_task_on_a_channel_before_fusion_is_rejected() {
    let mut lab = lab();
    open_with(&mut lab, &[]);
    assert_eq!(
        failed_open(&mut lab, ISSUER, 0),
        Error::TaskAlreadyOpen {
            channel: 0,
            task: 1
        }
    );
    // Another channel is fine, and after fusion the channel takes its next round.
    let tx = lab.call(ISSUER, REGISTRY, &Call::Open { channel: 1 });
    assert!(lab.block(&[tx]).receipt.failed.is_empty());
    let tx = lab.call(ISSUER, REGISTRY, &Call::Open { channel: 0 });
    let events = lab.block(&[tx]).events();
    assert!(matches!(
        events[0],
        ContractEvent::TaskOpened {
            task: 3,
            channel: 0,
            round: 1,
            ..
        }
    ));
}

#[test]
fn call_to_unknown_task_is_rejected() {
    let mut lab = lab();
    assert_eq!(
        failed_task_call(&mut lab, 1, 99, Call::Register),
        Error::UnknownContract {
            contract: task_contract(99)
        }
    );
}

#[test]
fn late_registration_is_rejected() {
    let mut lab = lab();
    let task = open_for_uploads(&mut lab, &[1, 2]);
    assert_eq!(
        failed_task_call(&mut lab, 3, task, Call::Register),
        Error::Late {
            call: "register",
            task,
            height: 3,
            deadline: 2
        }
    );
}

#[test]
fn duplicate_registration_is_rejected() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[1, 2, 3]);
    assert_eq!(
        failed_task_call(&mut lab, 1, task, Call::Register),
        Error::AlreadyRegistered {
            task,
            account: lab.address(1)
        }
    );
    assert_eq!(lab.task(task).unwrap().registrations.len(), 3);
}

#[test]
fn buy_in_without_registration_is_rejected() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[]);
    assert_eq!(
        failed_task_call(&mut lab, 4, task, Call::BuyIn),
        Error::NotRegistered {
            task,
            account: lab.address(4)
        }
    );
}

#[test]
fn buy_in_by_trusted_sensor_or_twice_is_refused() {
    let mut lab = lab_with(|c| {
        c.csc.registration_close = 2;
        c.csc.deadline = 3;
        c.csc.reveal_end = 4;
    });
    let task = open_with(&mut lab, &[1, 2, 3, 4]);
    assert_eq!(
        failed_task_call(&mut lab, 1, task, Call::BuyIn),
        Error::BuyInRefused {
            task,
            account: lab.address(1),
            reason: "trust already meets the threshold"
        }
    );
    let txs = buy_ins(&mut lab, task, &[4, 4]);
    let applied = lab.block(&txs);
    assert_eq!(applied.receipt.failed.len(), 1);
    assert_eq!(
        applied.receipt.failed[0],
        (
            1,
            Error::BuyInRefused {
                task,
                account: lab.address(4),
                reason: "already bought in"
            }
        )
    );
}

#[test]
fn registrations_beyond_capacity_are_rejected() {
    let mut lab = lab_with(|c| c.csc.max_registrations = 2);
    let task = open_with(&mut lab, &[1, 2]);
    // Still height 2: inside the registration window.
    assert_eq!(
        failed_task_call(&mut lab, 3, task, Call::Register),
        Error::CapacityReached {
            what: "registrations",
            task,
            limit: 2
        }
    );
}

#[test]
fn under_funded_registration_is_rejected() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[]);
    assert_eq!(
        failed_task_call(&mut lab, POOR, task, Call::Register),
        Error::InsufficientFunds {
            account: lab.address(POOR),
            needed: 100,
            available: 49
        }
    );
    assert_eq!(lab.balance(POOR), 49);
}

#[test]
fn upload_before_selection_is_out_of_phase() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[1, 2, 3]);
    let ring = Ring::new([1, 2, 3].map(|i| *lab.keys[i].public_key())).unwrap();
    let salt = lab.salt();
    let tx = lab.upload_over(1, task, 0, ring, true, &salt);
    let applied = lab.block(std::slice::from_ref(&tx));
    assert_eq!(
        applied.rejection(),
        Error::OutOfPhase {
            call: "upload",
            task,
            height: 2,
            opens: 3
        }
    );
}

#[test]
fn late_upload_is_rejected_and_invalidates_a_block() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[1, 2, 3]);
    lab.skip(2);
    let (tx, _) = salted_upload(&mut lab, 1, task, true);
    let (index, source) = forced_block_rejection(&mut lab, tx);
    assert_eq!(index, 0);
    assert_eq!(
        source,
        Error::Late {
            call: "upload",
            task,
            height: 4,
            deadline: 3
        }
    );
}

#[test]
fn upload_over_a_foreign_ring_is_rejected() {
    let mut lab = lab();
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    // Key 5 (not selected) signs over a ring it belongs to, with two real members.
    let ring = Ring::new([1, 2, 5].map(|i| *lab.keys[i].public_key())).unwrap();
    let salt = lab.salt();
    let tx = lab.upload_over(5, task, 0, ring, true, &salt);
    assert!(tx.verify_signature(&lab.params.chain_id).is_ok());
    let (_, source) = forced_block_rejection(&mut lab, tx.clone());
    assert_eq!(source, Error::RingMismatch { task });
    let applied = lab.block(&[tx]);
    assert_eq!(applied.rejection(), Error::RingMismatch { task });
}

#[test]
fn upload_for_another_round_is_rejected() {
    let mut lab = lab();
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    let ring = task_ring(&lab, task);
    let salt = lab.salt();
    let tx = lab.upload_over(1, task, 7, ring, true, &salt);
    assert_eq!(
        lab.block(&[tx]).rejection(),
        Error::RoundMismatch {
            task,
            expected: 0,
            got: 7
        }
    );
}

#[test]
fn second_report_of_a_signer_is_rejected() {
    let mut lab = lab();
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    let (uploads, _) = salted_uploads(&mut lab, task, &[(2, true), (2, false)]);
    let key_image = match &uploads[0].tx.payload {
        TxPayload::Upload(u) => *u.key_image(),
        _ => unreachable!(),
    };
    let applied = lab.block(&uploads);
    assert_eq!(
        applied.rejection(),
        Error::DuplicateReport {
            task,
            key_image: Box::new(key_image)
        }
    );
    assert_eq!(lab.task(task).unwrap().reports.len(), 1);
}

#[test]
fn tampered_upload_fails_its_ring_signature() {
    let mut lab = lab();
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    let (mut tx, _) = salted_upload(&mut lab, 1, task, true);
    if let TxPayload::Upload(u) = &mut tx.tx.payload {
        u.report.decision = false;
    }
    assert_eq!(
        tx.verify_signature(&lab.params.chain_id),
        Err(Error::BadRingSignature)
    );
    let (_, source) = forced_block_rejection(&mut lab, tx.clone());
    assert_eq!(source, Error::BadRingSignature);
    assert_eq!(lab.block(&[tx]).rejection(), Error::BadRingSignature);
}

#[test]
fn out_of_range_energy_is_rejected() {
    let mut lab = lab();
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    let salt = lab.salt();
    let report = SensingReport {
        decision: true,
        energy_mdb: 90_000,
        cell: GridCell::default(),
        commitment: IdentityCommitment::new(task, &lab.address(1), &salt),
    };
    let (tx, _) = signed_upload(&mut lab, 1, task, report);
    assert_eq!(
        lab.block(&[tx]).rejection(),
        Error::InvalidCall {
            field: "report.energy_mdb",
            reason: "beyond ±80,000 milli-dB"
        }
    );
}

#[test]
fn reveal_before_fusion_is_out_of_phase() {
    let mut lab = lab();
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    // Height 3 takes uploads; reveals open at 4.
    let (up, salt) = salted_upload(&mut lab, 2, task, true);
    let reveal = lab.reveal(2, task, salt);
    let applied = lab.block(&[up, reveal]);
    assert_eq!(
        applied.failure(),
        Error::OutOfPhase {
            call: "reveal",
            task,
            height: 3,
            opens: 4
        }
    );
}

#[test]
fn reveal_by_unselected_account_is_rejected() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[1, 2, 3, 4]);
    lab.skip(2);
    let salt = lab.salt();
    assert_eq!(
        failed_reveal(&mut lab, 4, task, salt),
        Error::NotSelected {
            task,
            account: lab.address(4)
        }
    );
}

#[test]
fn reveal_with_wrong_salt_is_a_commitment_mismatch() {
    let mut lab = lab_with(|c| c.csc.reveal_end = 4);
    let (task, salt) = one_busy_upload(&mut lab);
    let wrong = lab.salt();
    assert_eq!(
        failed_reveal(&mut lab, 1, task, wrong),
        Error::CommitmentMismatch { kind: "identity" }
    );
    // Another sensor cannot claim 1's report with 1's salt either.
    let tx = lab.reveal(2, task, salt.clone());
    let applied = lab.block(&[tx]);
    assert_eq!(
        applied.failure(),
        Error::CommitmentMismatch { kind: "identity" }
    );
}

#[test]
fn second_reveal_is_rejected() {
    let mut lab = lab_with(|c| c.csc.reveal_end = 5);
    let (task, salt) = one_busy_upload(&mut lab);
    let tx = lab.reveal(1, task, salt.clone());
    lab.block(&[tx]);
    assert_eq!(
        failed_reveal(&mut lab, 1, task, salt),
        Error::AlreadyRevealed {
            task,
            account: lab.address(1)
        }
    );
}

/// Key `signer`'s anonymous upload of `report` for `task`'s current round, signed over the
/// task's ring; with its key image.
fn signed_upload(
    lab: &mut Lab,
    signer: usize,
    task: u64,
    report: SensingReport,
) -> (SignedTx, KeyImage) {
    let t = lab.task(task).unwrap();
    let ring = Ring::from_bytes(&t.ring.concat()).unwrap();
    let upload = AnonymousUpload::sign(
        &lab.keys[signer],
        &lab.params.chain_id,
        task,
        t.round,
        report,
        ring,
        &mut lab.rng,
    )
    .unwrap();
    let image = *upload.key_image();
    (SignedTx::anonymous(upload).unwrap(), image)
}

/// Key `signer`'s upload of `decision` for `task` carrying `commitment`, whoever's identity it
/// names (the colluders' swap, or a copied commitment).
fn upload_committing_to(
    lab: &mut Lab,
    signer: usize,
    task: u64,
    decision: bool,
    commitment: IdentityCommitment,
) -> (SignedTx, KeyImage) {
    let report = SensingReport {
        decision,
        energy_mdb: 0,
        cell: GridCell {
            x: signer as i32,
            y: 0,
        },
        commitment,
    };
    signed_upload(lab, signer, task, report)
}

/// The key image of `i`'s reports in `task`.
fn image_of(lab: &Lab, i: usize, task: u64) -> KeyImage {
    let t = lab.task(task).unwrap();
    csc::event_base(&t, &lab.params.chain_id)
        .unwrap()
        .key_image(&lab.keys[i])
        .unwrap()
}

#[test]
fn swapped_commitments_are_refused_by_the_reveal_proof() {
    const A: usize = 1;
    const B: usize = 2;
    let mut lab = lab_with(|c| c.csc.reveal_end = 6);
    let task = open_for_uploads(&mut lab, &[A, B, 3]);
    // A reports busy (the fused outcome) but commits to B's address; B reports idle under its
    // own commitment. Colluding, B would open A's report and take A's outcome.
    let (salt_a, salt_b, salt_3) = (lab.salt(), lab.salt(), lab.salt());
    let to_b = IdentityCommitment::new(task, &lab.address(B), &salt_a);
    let (swap, image_a) = upload_committing_to(&mut lab, A, task, true, to_b);
    let txs = [
        swap,
        lab.upload(B, task, false, &salt_b),
        lab.upload(3, task, true, &salt_3),
    ];
    let events = lab.block(&txs).events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ContractEvent::Fused { busy: true, .. }))
    );
    assert_eq!(image_a, image_of(&lab, A, task));
    let image_b = image_of(&lab, B, task);

    // B opens A's report: the salt matches, but B's proof is for B's key image, not A's.
    let tx = lab.reveal(B, task, salt_a.clone());
    assert_eq!(
        failed_call_leaving_task(&mut lab, B, task, tx),
        Error::BadRevealProof {
            task,
            account: lab.address(B)
        }
    );
    // A cannot open it either (the commitment names B).
    let tx = lab.reveal(A, task, salt_a);
    assert_eq!(
        failed_call_leaving_task(&mut lab, A, task, tx),
        Error::CommitmentMismatch { kind: "identity" }
    );

    // Honest path: B opens its own report and gets its own (wrong) outcome.
    let tx = lab.reveal(B, task, salt_b);
    let events = lab.block(&[tx]).events();
    assert_eq!(
        events,
        vec![ContractEvent::Revealed {
            task,
            account: lab.address(B),
            key_image: image_b,
            cell: GridCell { x: 2, y: -2 },
        }]
    );
    let tx = lab.reveal(3, task, salt_3);
    let events = lab.block(&[tx]).events();
    let ContractEvent::Settled { trust, .. } = events.last().unwrap() else {
        panic!("no settlement: {events:?}");
    };
    let outcomes: Vec<_> = trust.iter().map(|u| (u.account, u.outcome)).collect();
    assert_eq!(
        outcomes,
        vec![
            (lab.address(A), SensorOutcome::Silent),
            (lab.address(B), SensorOutcome::Wrong),
            (lab.address(3), SensorOutcome::Right),
        ]
    );
}

#[test]
fn a_copied_commitment_does_not_block_the_owners_reveal() {
    let mut lab = lab_with(|c| c.csc.reveal_end = 4);
    let task = open_for_uploads(&mut lab, &[1, 2, 3]);
    // 1 copies 2's commitment and its report lands first: the commitment now selects two
    // reports, and 2's proof opens its own.
    let salt = lab.salt();
    let copied = IdentityCommitment::new(task, &lab.address(2), &salt);
    let (copy, image_1) = upload_committing_to(&mut lab, 1, task, true, copied);
    let own = lab.upload(2, task, true, &salt);
    lab.block(&[copy, own]);
    let t = lab.task(task).unwrap();
    assert_eq!(t.reports[0].key_image, image_1.to_bytes());
    assert_eq!(
        t.reports[0].report.commitment,
        t.reports[1].report.commitment
    );

    let tx = lab.reveal(2, task, salt);
    let events = lab.block(&[tx]).events();
    assert_eq!(
        events,
        vec![ContractEvent::Revealed {
            task,
            account: lab.address(2),
            key_image: image_of(&lab, 2, task),
            cell: GridCell { x: 2, y: -2 },
        }]
    );
    let t = lab.task(task).unwrap();
    assert_eq!(t.reports[0].revealed_by, None);
    assert_eq!(t.reports[1].revealed_by, Some(lab.address(2)));
}

#[test]
fn reveal_proof_bound_to_another_task_or_account_is_refused() {
    let mut lab = lab_with(|c| c.csc.reveal_end = 7);
    let (task, salt) = one_busy_upload(&mut lab);
    let base = csc::event_base(&lab.task(task).unwrap(), &lab.params.chain_id).unwrap();
    for context in [
        csc::reveal_context(&lab.params.chain_id, task + 1, &lab.address(1)),
        csc::reveal_context(&lab.params.chain_id, task, &lab.address(2)),
    ] {
        let proof = dleq::prove(&lab.keys[1], &base, &context, &mut lab.rng).unwrap();
        let tx = lab.call(
            1,
            task_contract(task),
            &Call::Reveal {
                salt: salt.clone(),
                proof,
            },
        );
        assert_eq!(
            failed_call_leaving_task(&mut lab, 1, task, tx),
            Error::BadRevealProof {
                task,
                account: lab.address(1)
            }
        );
    }
    // A malformed proof is a typed codec error (fee paid, nothing else).
    let mut data = vec![3u8];
    data.extend_from_slice(salt.as_bytes());
    data.extend_from_slice(&[0; 64]);
    let tx = raw_task_call(&mut lab, 1, task, data);
    assert_eq!(
        failed_call(&mut lab, 1, tx),
        Error::NonCanonicalScalar {
            field: "dleq.c",
            index: 0
        }
    );
    // The right proof still opens the report.
    let tx = lab.reveal(1, task, salt);
    let events = lab.block(&[tx]).events();
    assert!(matches!(events[..], [ContractEvent::Revealed { .. }]));
}

#[test]
fn late_reveal_is_rejected_then_the_task_is_gone() {
    let mut lab = lab();
    let (task, salt) = one_busy_upload(&mut lab);
    lab.skip(1);
    assert_eq!(
        failed_reveal(&mut lab, 1, task, salt.clone()),
        Error::Late {
            call: "reveal",
            task,
            height: 5,
            deadline: 4
        }
    );
    lab.skip(1);
    assert_eq!(
        failed_reveal(&mut lab, 1, task, salt),
        Error::UnknownContract {
            contract: task_contract(task)
        }
    );
}

#[test]
fn call_to_the_wrong_contract_kind_or_malformed_is_rejected() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[]);
    let tx = lab.call(1, REGISTRY, &Call::Register);
    assert_eq!(
        failed_call(&mut lab, 1, tx),
        Error::InvalidCall {
            field: "call",
            reason: "this contract does not take this call"
        }
    );
    // Malformed call data: a typed codec error, fee still paid.
    let tx = raw_task_call(&mut lab, 1, task, vec![0, 1]);
    assert!(matches!(
        failed_call(&mut lab, 1, tx),
        Error::Truncated {
            field: "call.open.channel",
            ..
        }
    ));
    // No auction exists for a busy or unfused task.
    let tx = lab.call(
        6,
        auction_contract(task),
        &Call::Commit {
            blinded: chain::crypto::BlindedBid::from_bytes([1; 32]),
            deposit: 50,
        },
    );
    assert_eq!(
        failed_call(&mut lab, 6, tx),
        Error::UnknownContract {
            contract: auction_contract(task)
        }
    );
}

#[test]
fn a_call_whose_fee_exceeds_the_balance_invalidates_the_block() {
    let mut lab = lab();
    let task = open_with(&mut lab, &[]);
    let tx = lab.call_with_fee(POOR, task_contract(task), &Call::Register, 1_000);
    forced_block_rejection(&mut lab, tx.clone());
    let applied = lab.block(&[tx]);
    assert!(matches!(
        applied.rejection(),
        Error::InsufficientFunds { needed: 1_000, .. }
    ));
}
