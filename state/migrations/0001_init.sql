-- frameflow state, version 1. See docs/state.md ("The schema").

-- One row per run; its journal lines are journal_records.
CREATE TABLE runs (
    id      text PRIMARY KEY,
    created timestamptz NOT NULL DEFAULT now()
);

-- Every journal line of every run, in order (seq). kind, mut_key and
-- identity index the lines: identity is set on intents, a digest of the
-- request that is the same in every run sending it.
CREATE TABLE journal_records (
    seq      bigserial PRIMARY KEY,
    run_id   text NOT NULL REFERENCES runs (id),
    kind     text NOT NULL,
    mut_key  text,
    identity text,
    at       timestamptz NOT NULL DEFAULT now(),
    line     text NOT NULL
);
CREATE INDEX journal_records_run ON journal_records (run_id, seq);
CREATE INDEX journal_records_kind ON journal_records (run_id, kind, seq);
CREATE INDEX journal_records_identity ON journal_records (identity, at) WHERE identity IS NOT NULL;
CREATE INDEX journal_records_mutation ON journal_records (run_id, mut_key, seq) WHERE mut_key IS NOT NULL;

-- Who holds a lock, for the "waiting for run R on host H" message only:
-- the lock itself is a session advisory lock.
CREATE TABLE lock_holders (
    lock_key text PRIMARY KEY,
    run_id   text NOT NULL,
    host     text NOT NULL,
    pid      integer NOT NULL,
    username text NOT NULL,
    since    timestamptz NOT NULL DEFAULT now()
);

-- Named documents: applied plans, doctor findings.
CREATE TABLE documents (
    name    text PRIMARY KEY,
    body    bytea NOT NULL,
    updated timestamptz NOT NULL DEFAULT now()
);
