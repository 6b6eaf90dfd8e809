-- A set-based batch claim: fraser_claim_turns (0002) walked its candidates one chat at
-- a time (a lock, a look-up and two updates per chat); this version claims the whole
-- batch with one statement, with the same lease and fencing rules.
-- Never edit this file once applied anywhere: add a new numbered migration instead.

-- Claims up to p_limit chats, each with its oldest pending message, oldest message
-- first. A chat qualifies when no unexpired lease holds it. The chat's claim row and
-- the message row are locked with SKIP LOCKED, so the claim never waits for a lock
-- (and so can never be part of a deadlock) and concurrent claimers pass over each
-- other's chats. Locking re-checks both rows on their newest versions: a chat claimed
-- by someone else since this statement's snapshot (lease taken) or a message finished
-- since then (status no longer pending) is skipped, so a chat is never claimed twice
-- and a finished message never runs again. The "oldest pending message of its chat"
-- test uses the statement's snapshot; a chat whose head changed meanwhile is simply
-- left for the next claim.
CREATE OR REPLACE FUNCTION fraser_claim_turns(
    p_worker text, p_now_ms bigint, p_lease_ms bigint, p_limit integer
)
RETURNS TABLE (
    c_inbox_id bigint, c_token bigint, c_attempts integer, c_platform text, c_chat_id text,
    c_message_id text, c_sender_id text, c_sender_name text, c_text text,
    c_is_group boolean, c_reply_context jsonb, c_received_at_ms bigint
)
LANGUAGE plpgsql
-- Walk the pending messages in id order and look each chat up by key: the batch is
-- small and the tables are large.
SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
    -- As in fraser_claim_turn: a lost claim is simply claimed again.
    PERFORM set_config('synchronous_commit', 'off', true);

    RETURN QUERY
    WITH heads AS (
        SELECT i.id, q.platform, q.chat_id
        FROM inbox i
        JOIN inbox_chats q ON q.platform = i.platform AND q.chat_id = i.chat_id
        WHERE i.status = 'pending' AND q.lease_until_ms <= p_now_ms
          AND NOT EXISTS (
              SELECT 1 FROM inbox o
              WHERE o.platform = i.platform AND o.chat_id = i.chat_id
                AND o.status = 'pending' AND o.id < i.id)
        ORDER BY i.id
        LIMIT p_limit
        FOR UPDATE OF q, i SKIP LOCKED
    ),
    leased AS (
        UPDATE inbox_chats q
        SET lease_token = q.lease_token + 1, lease_owner = p_worker,
            lease_until_ms = p_now_ms + p_lease_ms
        FROM heads h
        WHERE q.platform = h.platform AND q.chat_id = h.chat_id
        RETURNING q.platform, q.chat_id, q.lease_token
    ),
    claimed AS (
        UPDATE inbox i SET attempts = i.attempts + 1
        FROM heads h
        JOIN leased l ON l.platform = h.platform AND l.chat_id = h.chat_id
        WHERE i.id = h.id
        RETURNING i.id, l.lease_token, i.attempts, i.platform, i.chat_id, i.message_id,
                  i.sender_id, i.sender_name, i.text, i.is_group, i.reply_context,
                  i.received_at_ms
    )
    SELECT * FROM claimed ORDER BY 1;
END $$;
