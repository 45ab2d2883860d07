"""The ledger's record states and its SQLite schema, one migration per version."""

from __future__ import annotations

PENDING = ("exported", "queued", "held", "rejected")
DONE = ("sent", "confirmed", "amended", "resolved")  # in Sage: never delivered again
VOID = "void"  # cancelled in Magento before it reached Sage: terminal, never delivered
SKIPPED = "skipped"  # nothing to post (a zero total, by the recipe's rule): not pending

# Each entry moves the schema one version up; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE records (
        entity_type TEXT NOT NULL,
        entity_id INTEGER NOT NULL,
        store_id INTEGER NOT NULL,
        increment_id TEXT,
        order_id INTEGER,
        order_increment_id TEXT,
        content_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        held_by TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        export_checkpoint TEXT,
        batch_id INTEGER,
        file TEXT,
        sent_run INTEGER,
        sage_ref TEXT,
        sage_invoice_ref TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (entity_type, entity_id, store_id)
    );
    CREATE INDEX records_state ON records (state);
    CREATE INDEX records_order ON records (order_increment_id);
    CREATE INDEX records_reference ON records (increment_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        run_id TEXT,
        entity_type TEXT, entity_id INTEGER, store_id INTEGER,
        event TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX events_record ON events (entity_type, entity_id, store_id);
    CREATE TABLE accounts (
        customer_key TEXT PRIMARY KEY,
        account_ref TEXT NOT NULL UNIQUE,
        origin TEXT NOT NULL,
        delivered_batch INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE TABLE batches (
        batch_id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        state TEXT NOT NULL,
        plan TEXT NOT NULL,
        created_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        command TEXT NOT NULL,
        flow TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        exit_code INTEGER,
        summary TEXT
    );
    CREATE TABLE bookmarks (
        flow TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE pushed (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        previous_value TEXT,
        pushed_at TEXT NOT NULL,
        run_id TEXT,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE files (
        sha256 TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT,
        processed_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE triggers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity_type TEXT NOT NULL,
        entity_id INTEGER NOT NULL,
        source TEXT NOT NULL,
        body_sha256 TEXT NOT NULL,
        received_at TEXT NOT NULL,
        consumed_run TEXT
    );
    CREATE INDEX triggers_pending ON triggers (consumed_run);
    """,
    """
    ALTER TABLE records ADD COLUMN grand_total TEXT;
    ALTER TABLE records ADD COLUMN magento_state TEXT;
    ALTER TABLE records ADD COLUMN sage_reference TEXT;
    CREATE INDEX records_sage_reference ON records (sage_reference);
    """,
    # Pushes to Magento, each undone by `rollback` at most once. A ledger from before keeps
    # its last push as one (unless its last change was an old-style rollback).
    """
    CREATE TABLE pushes (
        push_id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        run_id TEXT,
        pushed_at TEXT NOT NULL,
        rolled_back_at TEXT,
        rolled_back_run TEXT
    );
    ALTER TABLE pushed ADD COLUMN push_id INTEGER;
    CREATE INDEX pushed_push ON pushed (push_id);
    INSERT INTO pushes (kind, run_id, pushed_at)
        SELECT kind, run_id, at FROM (SELECT kind, run_id, max(pushed_at) AS at FROM pushed
                                      GROUP BY kind)
        WHERE run_id IS NOT NULL
          AND run_id NOT IN (SELECT run_id FROM runs WHERE command = 'rollback');
    UPDATE pushed SET push_id = (SELECT p.push_id FROM pushes p
                                 WHERE p.kind = pushed.kind AND p.run_id = pushed.run_id)
    """,
    # The watched folder's history, one row per step of a file (taken, then applied, held,
    # quarantined or duplicate): resuming a killed push under its run id, and skipping a
    # duplicate only while the `pushed` snapshot is as that file left it.
    """
    CREATE TABLE watch_files (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT,
        run_id TEXT,
        outcome TEXT NOT NULL,
        pushed_fingerprint TEXT,
        detail TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX watch_files_sha ON watch_files (sha256);
    CREATE INDEX watch_files_kind ON watch_files (kind, outcome);
    """,
    # The delivery journal: each file of a batch once complete under its temporary name
    # (`ready`) and once renamed into place (`renamed`), each its own commit, so recovery knows
    # what landed even after the folder was collected. And the answers `ack` applied from Sage,
    # so a replayed answer for the same delivery (or from the same file) counts once.
    """
    CREATE TABLE batch_files (
        batch_id INTEGER NOT NULL,
        file TEXT NOT NULL,
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (batch_id, file)
    );
    CREATE TABLE answers (
        entity_type TEXT NOT NULL,
        entity_id INTEGER NOT NULL,
        store_id INTEGER NOT NULL,
        batch_id INTEGER,
        answer TEXT NOT NULL,
        source TEXT NOT NULL,
        applied_at TEXT NOT NULL,
        run_id TEXT
    );
    CREATE INDEX answers_record ON answers (entity_type, entity_id, store_id);
    """,
    # The cause beside the reason (model.holds): a held or needs-attention record's code and
    # params (JSON), so `status` groups by cause. Rows from before keep NULL; their cause is
    # read back from the reason's text when shown.
    """
    ALTER TABLE records ADD COLUMN hold_code TEXT;
    ALTER TABLE records ADD COLUMN hold_params TEXT;
    """,
    # A batch's planned records, one row each in plan order (`seq`), rather than a list in the
    # plan's JSON, so a batch of any size is planned and finished a chunk at a time. A plan
    # written before keeps its list (`records` in the JSON) and is read from it.
    """
    CREATE TABLE batch_records (
        batch_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        entity_type TEXT NOT NULL,
        entity_id INTEGER NOT NULL,
        store_id INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        file TEXT NOT NULL,
        PRIMARY KEY (batch_id, seq)
    );
    """,
    # Sage's answers told back to Magento as order comments (`sagesync update-orders`), one
    # row per answer event: `sending` before the POST, `posted` after, so a crash between the
    # two is settled by looking for the comment's marker on the order, never by posting twice.
    # A ledger from before starts after its last event: old answers are not told again.
    """
    CREATE TABLE order_comments (
        event_id INTEGER PRIMARY KEY,
        order_id INTEGER NOT NULL,
        state TEXT NOT NULL,
        detail TEXT,
        at TEXT NOT NULL
    );
    INSERT INTO bookmarks (flow, value, updated_at)
        SELECT 'order_comments', CAST(coalesce(max(id), 0) AS TEXT),
               strftime('%Y-%m-%dT%H:%M:%SZ', 'now') FROM events;
    """,
    # Alerts (sagesync.alerts): one row per episode of a cause, open until the cause clears,
    # so a cause is announced once and its resolution once; `alert_sends` records which
    # channel delivered which message, so a failed send is retried next time and never
    # repeated once it went. `sightings` keeps facts the silence checks need that no record
    # holds (the newest Magento order seen). Events get an index on their time for the digest.
    """
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        cause TEXT NOT NULL,
        title TEXT NOT NULL,
        detail TEXT NOT NULL,
        about TEXT,
        raised_at TEXT NOT NULL,
        cleared_at TEXT
    );
    CREATE UNIQUE INDEX alerts_open ON alerts (cause) WHERE cleared_at IS NULL;
    CREATE TABLE alert_sends (
        alert_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (alert_id, channel, kind)
    );
    CREATE TABLE sightings (
        what TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX events_at ON events (at);
    """,
    # Content hashes leave out where a document is in its life (state, status, updated_at:
    # see magento.tables.LIFECYCLE_FIELDS). Records hashed before keep scheme 1 until they are
    # exported again, when their new hash is adopted without flagging them amended.
    """
    ALTER TABLE records ADD COLUMN hash_scheme INTEGER NOT NULL DEFAULT 2;
    UPDATE records SET hash_scheme = 1;
    """,
    # What Sage says is owed on each document it has (`parse-sage --kind receivables |
    # push-magento`): the latest per record, compared with the next export so only a change
    # becomes an event (and so an order comment, told once like Sage's answers).
    """
    CREATE TABLE receivables (
        entity_type TEXT NOT NULL,
        entity_id INTEGER NOT NULL,
        store_id INTEGER NOT NULL,
        sage_invoice TEXT,
        amount TEXT,
        outstanding TEXT NOT NULL,
        paid_date TEXT,
        due_date TEXT,
        status TEXT NOT NULL,
        source TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (entity_type, entity_id, store_id)
    );
    """,
    # A new web customer's account approved by a person (`[customers] new_accounts =
    # "review"`): its documents wait in `held` until then. Accounts from before were all
    # created without review, so they count as approved.
    """
    ALTER TABLE accounts ADD COLUMN approved_at TEXT;
    UPDATE accounts SET approved_at = created_at;
    """,
    # Sage despatches told to Magento as shipments (parse-sage --kind shipments), one row per
    # order and tracking number: `sending` before the POST, `posted` after (with Magento's
    # shipment id), `refused` when Magento or the check before it said no (sent again next
    # time). Magento does not deduplicate shipments, so a `sending` row found on a rerun is
    # settled by looking for its tracking number on the order's shipments first.
    """
    CREATE TABLE shipments (
        order_increment_id TEXT NOT NULL,
        tracking_number TEXT NOT NULL,
        order_id INTEGER,
        state TEXT NOT NULL,
        lines TEXT NOT NULL,
        carrier_code TEXT NOT NULL,
        shipment_id INTEGER,
        detail TEXT,
        run_id TEXT,
        at TEXT NOT NULL,
        PRIMARY KEY (order_increment_id, tracking_number)
    );
    """,
)
