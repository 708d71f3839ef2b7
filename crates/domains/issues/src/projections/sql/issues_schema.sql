-- Each issue as it stands now.
CREATE TABLE IF NOT EXISTS issues (
    issue_id       TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    priority       TEXT NOT NULL,
    state          TEXT NOT NULL,
    assignee       TEXT,
    comment_count  BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    created_by     TEXT,
    created_at     TEXT NOT NULL,
    updated_by     TEXT,
    updated_at     TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS issues_newest_first ON issues (created_at DESC, issue_id DESC);

-- The comments on each issue, in order.
CREATE TABLE IF NOT EXISTS issue_comments (
    issue_id    TEXT NOT NULL,
    comment_id  TEXT NOT NULL,
    body        TEXT NOT NULL,
    author      TEXT,
    added_at    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    PRIMARY KEY (issue_id, comment_id)
)
