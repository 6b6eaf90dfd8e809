-- Fraser server schema for SQLite (the embedded, single-machine store).
-- Same tables and meaning as migrations/postgres/0001_queue_and_state.sql; read that
-- file for the rules. Differences: JSON is TEXT checked with json_valid, ids are
-- AUTOINCREMENT (never reused, so cursors only grow), timestamps are ISO-8601 TEXT in UTC
-- and updated_at is maintained by triggers. Columns ending in _ms are milliseconds since
-- the Unix epoch from the server's clock.
-- Never edit this file once applied anywhere: add a new numbered migration instead.

-- One row per chat: the game state and its version (number of turns applied).
CREATE TABLE chats (
    platform   TEXT    NOT NULL,
    chat_id    TEXT    NOT NULL,
    is_group   INTEGER NOT NULL DEFAULT 0,
    state      TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(state)),
    version    INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (platform, chat_id)
);

-- Per-chat players and their scores.
CREATE TABLE players (
    platform   TEXT    NOT NULL,
    chat_id    TEXT    NOT NULL,
    player_id  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    score      INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (platform, chat_id, player_id),
    FOREIGN KEY (platform, chat_id) REFERENCES chats (platform, chat_id) ON DELETE CASCADE
);
CREATE INDEX players_by_score ON players (platform, chat_id, score DESC, player_id);

-- The per-chat claim of the inbox: one row per chat that ever had a message.
-- lease_token counts claims and fences out a worker whose lease expired.
CREATE TABLE inbox_chats (
    platform       TEXT    NOT NULL,
    chat_id        TEXT    NOT NULL,
    lease_token    INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (platform, chat_id)
);

-- Inbound messages, de-duplicated by (platform, message_id).
CREATE TABLE inbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    platform       TEXT    NOT NULL,
    chat_id        TEXT    NOT NULL,
    message_id     TEXT    NOT NULL,
    sender_id      TEXT    NOT NULL,
    sender_name    TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    is_group       INTEGER NOT NULL,
    reply_context  TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(reply_context)),
    received_at_ms INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    finished_at_ms INTEGER,
    created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (platform, message_id)
);
CREATE INDEX inbox_pending ON inbox (id) WHERE status = 'pending';
CREATE INDEX inbox_chat_pending ON inbox (platform, chat_id, id) WHERE status = 'pending';
CREATE INDEX inbox_dead ON inbox (id) WHERE status = 'dead';

-- Replies to send (the transactional outbox), in id order per chat.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    platform        TEXT    NOT NULL,
    chat_id         TEXT    NOT NULL,
    inbox_id        INTEGER,
    is_group        INTEGER NOT NULL,
    reply_context   TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(reply_context)),
    reply           TEXT    NOT NULL CHECK (json_valid(reply)),
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    parts_sent      INTEGER NOT NULL DEFAULT 0,
    lease_token     INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until_ms  INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    finished_at_ms  INTEGER,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
CREATE INDEX outbox_chat_pending ON outbox (platform, chat_id, id) WHERE status = 'pending';
CREATE INDEX outbox_dead ON outbox (id) WHERE status = 'dead';

-- Replies delivered to the built-in web chat, fetched by the page with a cursor (id).
CREATE TABLE web_replies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    buttons    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(buttons)),
    created_ms INTEGER NOT NULL,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX web_replies_by_chat ON web_replies (chat_id, id);

-- updated_at on every update (recursive triggers are off, so these do not loop).
CREATE TRIGGER chats_touch AFTER UPDATE ON chats FOR EACH ROW BEGIN
    UPDATE chats SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER players_touch AFTER UPDATE ON players FOR EACH ROW BEGIN
    UPDATE players SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER inbox_chats_touch AFTER UPDATE ON inbox_chats FOR EACH ROW BEGIN
    UPDATE inbox_chats SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER inbox_touch AFTER UPDATE ON inbox FOR EACH ROW BEGIN
    UPDATE inbox SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER outbox_touch AFTER UPDATE ON outbox FOR EACH ROW BEGIN
    UPDATE outbox SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER web_replies_touch AFTER UPDATE ON web_replies FOR EACH ROW BEGIN
    UPDATE web_replies SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
