-- Fraser server schema for PostgreSQL (production).
--
-- Data flow (DESIGN.md, data flow 2): a webhook stores the message in `inbox`
-- (de-duplicated by platform + message id) and answers at once; a worker claims the
-- oldest pending message of a chat that no one holds (`inbox_chats` carries the
-- per-chat lease), runs the turn in one transaction (fraser_begin_turn ->
-- game step in the server -> fraser_save_turn) and leaves the replies in `outbox`;
-- a sender delivers them in id order per chat.
--
-- Columns ending in _ms are milliseconds since the Unix epoch from the servers' clock
-- (leases and retry times are compared against the caller's `now`, which keeps them
-- testable); created_at/updated_at are the database's own time.
-- Every per-chat table is keyed by (platform, chat_id) and no turn touches another
-- chat's rows, so the schema can be distributed by that key later.
-- Never edit this file once applied anywhere: add a new numbered migration instead.

-- updated_at on every update.
CREATE FUNCTION fraser_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- One row per chat: the game state and its version (number of turns applied).
CREATE TABLE chats (
    platform   text        NOT NULL,
    chat_id    text        NOT NULL,
    is_group   boolean     NOT NULL DEFAULT false,
    state      jsonb       NOT NULL DEFAULT 'null',
    version    bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, chat_id)
);
CREATE TRIGGER chats_touch BEFORE UPDATE ON chats FOR EACH ROW EXECUTE FUNCTION fraser_touch();

-- Per-chat players and their scores (updated from each turn's score deltas).
CREATE TABLE players (
    platform   text        NOT NULL,
    chat_id    text        NOT NULL,
    player_id  text        NOT NULL,
    name       text        NOT NULL,
    score      bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, chat_id, player_id),
    FOREIGN KEY (platform, chat_id) REFERENCES chats (platform, chat_id) ON DELETE CASCADE
);
CREATE INDEX players_by_score ON players (platform, chat_id, score DESC, player_id);
CREATE TRIGGER players_touch BEFORE UPDATE ON players FOR EACH ROW EXECUTE FUNCTION fraser_touch();

-- The per-chat claim of the inbox: one row per chat that ever had a message.
-- A worker holds a chat while lease_until_ms is in the future; lease_token counts
-- claims and is the fencing token (a worker whose lease expired and was taken over
-- finds another token and writes nothing). Releasing with a future lease_until_ms and
-- no owner is a retry backoff for the chat.
CREATE TABLE inbox_chats (
    platform       text        NOT NULL,
    chat_id        text        NOT NULL,
    lease_token    bigint      NOT NULL DEFAULT 0,
    lease_owner    text,
    lease_until_ms bigint      NOT NULL DEFAULT 0,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, chat_id)
);
CREATE TRIGGER inbox_chats_touch BEFORE UPDATE ON inbox_chats
    FOR EACH ROW EXECUTE FUNCTION fraser_touch();

-- Inbound messages. The unique key is the de-duplication memory for redeliveries;
-- done and dead rows are purged after a retention period longer than any platform
-- redelivers.
CREATE TABLE inbox (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform       text        NOT NULL,
    chat_id        text        NOT NULL,
    message_id     text        NOT NULL,
    sender_id      text        NOT NULL,
    sender_name    text        NOT NULL,
    text           text        NOT NULL,
    is_group       boolean     NOT NULL,
    reply_context  jsonb       NOT NULL DEFAULT 'null',
    received_at_ms bigint      NOT NULL,
    status         text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'done', 'dead')),
    attempts       integer     NOT NULL DEFAULT 0,
    last_error     text,
    finished_at_ms bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, message_id)
);
CREATE INDEX inbox_pending ON inbox (id) WHERE status = 'pending';
CREATE INDEX inbox_chat_pending ON inbox (platform, chat_id, id) WHERE status = 'pending';
CREATE INDEX inbox_dead ON inbox (id) WHERE status = 'dead';
CREATE INDEX inbox_finished ON inbox (finished_at_ms) WHERE status <> 'pending';
CREATE TRIGGER inbox_touch BEFORE UPDATE ON inbox FOR EACH ROW EXECUTE FUNCTION fraser_touch();

-- Replies to send (the transactional outbox): written in the turn's transaction,
-- delivered afterwards, in id order per chat (a row is not sent before the chat's
-- previous row is sent or dead). Delivery is at-least-once.
CREATE TABLE outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform        text        NOT NULL,
    chat_id         text        NOT NULL,
    inbox_id        bigint,
    is_group        boolean     NOT NULL,
    reply_context   jsonb       NOT NULL DEFAULT 'null',
    reply           jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,  -- claims
    failures        integer     NOT NULL DEFAULT 0,  -- failed sends (429s not counted)
    parts_sent      integer     NOT NULL DEFAULT 0,  -- parts of a split reply delivered
    lease_token     bigint      NOT NULL DEFAULT 0,
    lease_owner     text,
    lease_until_ms  bigint      NOT NULL DEFAULT 0,
    next_attempt_ms bigint      NOT NULL DEFAULT 0,
    last_error      text,
    finished_at_ms  bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
CREATE INDEX outbox_chat_pending ON outbox (platform, chat_id, id) WHERE status = 'pending';
CREATE INDEX outbox_dead ON outbox (id) WHERE status = 'dead';
CREATE INDEX outbox_finished ON outbox (finished_at_ms) WHERE status <> 'pending';
CREATE TRIGGER outbox_touch BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION fraser_touch();

-- Replies delivered to the built-in web chat; the page polls them by cursor (id).
-- Per chat, ids grow in commit order (a chat's replies are delivered one at a time).
CREATE TABLE web_replies (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id    text        NOT NULL,
    text       text        NOT NULL,
    buttons    jsonb       NOT NULL DEFAULT '[]',
    created_ms bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX web_replies_by_chat ON web_replies (chat_id, id);
CREATE TRIGGER web_replies_touch BEFORE UPDATE ON web_replies
    FOR EACH ROW EXECUTE FUNCTION fraser_touch();

-- Wake-ups: idle workers and senders LISTEN on these channels (with a polling
-- fallback, since notifications are lost while a listener reconnects).
CREATE FUNCTION fraser_notify_inbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fraser_inbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER inbox_notify AFTER INSERT ON inbox
    FOR EACH STATEMENT EXECUTE FUNCTION fraser_notify_inbox();

CREATE FUNCTION fraser_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fraser_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION fraser_notify_outbox();

-- Claims the oldest pending message of a chat that no unexpired lease holds.
-- The chat's inbox_chats row is locked with SKIP LOCKED, so concurrent claimers pass
-- over a chat that another claimer is taking, and the lease is re-checked on the
-- newest row version, so two claimers never both hold a chat.
-- Returns no row when there is nothing to claim.
CREATE FUNCTION fraser_claim_turn(p_worker text, p_now_ms bigint, p_lease_ms bigint)
RETURNS TABLE (
    c_inbox_id bigint, c_token bigint, c_attempts integer, c_platform text, c_chat_id text,
    c_message_id text, c_sender_id text, c_sender_name text, c_text text,
    c_is_group boolean, c_reply_context jsonb, c_received_at_ms bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    v_platform text;
    v_chat_id  text;
    v_inbox_id bigint;
    v_token    bigint;
BEGIN
    -- A claim need not survive a database crash (the message is then claimed again),
    -- so its commit does not wait for the WAL flush; the turn's commit flushes it anyway.
    PERFORM set_config('synchronous_commit', 'off', true);

    SELECT q.platform, q.chat_id INTO v_platform, v_chat_id
    FROM inbox i
    JOIN inbox_chats q ON q.platform = i.platform AND q.chat_id = i.chat_id
    WHERE i.status = 'pending' AND q.lease_until_ms <= p_now_ms
    ORDER BY i.id
    LIMIT 1
    FOR UPDATE OF q SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- Under the chat's lock: its oldest pending message (a fresh snapshot; another
    -- worker may have finished the message seen above in the meantime).
    SELECT i.id INTO v_inbox_id
    FROM inbox i
    WHERE i.platform = v_platform AND i.chat_id = v_chat_id AND i.status = 'pending'
    ORDER BY i.id
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    UPDATE inbox_chats q
    SET lease_token = q.lease_token + 1, lease_owner = p_worker,
        lease_until_ms = p_now_ms + p_lease_ms
    WHERE q.platform = v_platform AND q.chat_id = v_chat_id
    RETURNING q.lease_token INTO v_token;

    RETURN QUERY
    UPDATE inbox i SET attempts = i.attempts + 1
    WHERE i.id = v_inbox_id
    RETURNING i.id, v_token, i.attempts, i.platform, i.chat_id, i.message_id, i.sender_id,
              i.sender_name, i.text, i.is_group, i.reply_context, i.received_at_ms;
END $$;

-- Loads a chat for a turn in one round trip: creates the chat and the sender's player
-- record if they are new (refreshing the sender's display name), locks the chat row
-- until the end of the transaction, and returns the state, its version and the
-- scoreboard (the best p_top players and the sender, as a jsonb array).
CREATE FUNCTION fraser_load_chat(
    p_platform text, p_chat_id text, p_is_group boolean, p_sender_id text,
    p_sender_name text, p_top integer
)
RETURNS TABLE (chat_state jsonb, chat_version bigint, chat_scores jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO chats AS c (platform, chat_id, is_group)
    VALUES (p_platform, p_chat_id, p_is_group)
    ON CONFLICT (platform, chat_id) DO NOTHING;

    INSERT INTO players AS p (platform, chat_id, player_id, name)
    VALUES (p_platform, p_chat_id, p_sender_id, p_sender_name)
    ON CONFLICT (platform, chat_id, player_id)
    DO UPDATE SET name = EXCLUDED.name WHERE p.name IS DISTINCT FROM EXCLUDED.name;

    RETURN QUERY
    SELECT c.state, c.version,
           (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'player_id', s.player_id, 'name', s.name, 'score', s.score)
                    ORDER BY s.score DESC, s.player_id), '[]'::jsonb)
            FROM (
                (SELECT p.player_id, p.name, p.score FROM players p
                 WHERE p.platform = p_platform AND p.chat_id = p_chat_id
                 ORDER BY p.score DESC, p.player_id
                 LIMIT p_top)
                UNION
                (SELECT p.player_id, p.name, p.score FROM players p
                 WHERE p.platform = p_platform AND p.chat_id = p_chat_id
                   AND p.player_id = p_sender_id)
            ) s)
    FROM chats c
    WHERE c.platform = p_platform AND c.chat_id = p_chat_id
    FOR UPDATE OF c;
END $$;

-- Starts a turn inside the caller's transaction: checks that the claim still holds
-- the chat (same token, message still pending) and locks the claim row, then loads
-- the chat. Returns no row when the claim was fenced out.
CREATE FUNCTION fraser_begin_turn(
    p_platform text, p_chat_id text, p_inbox_id bigint, p_token bigint,
    p_is_group boolean, p_sender_id text, p_sender_name text, p_top integer
)
RETURNS TABLE (chat_state jsonb, chat_version bigint, chat_scores jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1
    FROM inbox_chats q
    JOIN inbox i ON i.id = p_inbox_id
    WHERE q.platform = p_platform AND q.chat_id = p_chat_id AND q.lease_token = p_token
      AND q.lease_owner IS NOT NULL AND i.status = 'pending'
    FOR UPDATE OF q;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT * FROM fraser_load_chat(p_platform, p_chat_id, p_is_group, p_sender_id,
                                   p_sender_name, p_top);
END $$;

-- Finishes a turn inside the caller's transaction (after fraser_begin_turn): saves the
-- state with version + 1, queues the replies (a jsonb array, in order), applies the
-- score deltas (a jsonb array of {player_id, delta}), marks the message done and
-- releases the chat. Returns the new version.
CREATE FUNCTION fraser_save_turn(
    p_platform text, p_chat_id text, p_inbox_id bigint, p_version bigint, p_state jsonb,
    p_replies jsonb, p_deltas jsonb, p_is_group boolean, p_reply_context jsonb,
    p_now_ms bigint
)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_version bigint;
    v_reply   jsonb;
BEGIN
    UPDATE chats c SET state = p_state, version = c.version + 1
    WHERE c.platform = p_platform AND c.chat_id = p_chat_id AND c.version = p_version
    RETURNING c.version INTO v_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'chat %/% is not at version %', p_platform, p_chat_id, p_version
            USING ERRCODE = 'serialization_failure';
    END IF;

    -- One insert per reply, in order, so ids follow the reply order.
    FOR v_reply IN
        SELECT r.value FROM jsonb_array_elements(p_replies) WITH ORDINALITY AS r
        ORDER BY r.ordinality
    LOOP
        INSERT INTO outbox (platform, chat_id, inbox_id, is_group, reply_context, reply,
                            next_attempt_ms)
        VALUES (p_platform, p_chat_id, p_inbox_id, p_is_group, p_reply_context, v_reply,
                p_now_ms);
    END LOOP;

    INSERT INTO players AS p (platform, chat_id, player_id, name, score)
    SELECT p_platform, p_chat_id, d.player_id, d.player_id, d.delta
    FROM (
        SELECT e->>'player_id' AS player_id, sum((e->>'delta')::bigint) AS delta
        FROM jsonb_array_elements(p_deltas) AS e
        GROUP BY e->>'player_id'
    ) d
    ON CONFLICT (platform, chat_id, player_id) DO UPDATE SET score = p.score + EXCLUDED.score;

    UPDATE inbox i SET status = 'done', finished_at_ms = p_now_ms, last_error = NULL
    WHERE i.id = p_inbox_id;

    UPDATE inbox_chats q SET lease_owner = NULL, lease_until_ms = 0, last_error = NULL
    WHERE q.platform = p_platform AND q.chat_id = p_chat_id;

    RETURN v_version;
END $$;
