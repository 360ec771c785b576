-- API tokens are named, may expire, and record when they were last used (at most once a minute).
ALTER TABLE api_tokens
    ADD COLUMN name         text NOT NULL DEFAULT 'default',
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz;
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);
