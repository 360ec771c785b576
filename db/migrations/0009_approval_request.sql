-- An approval request carries its note to approvers and who submitted it (seed 000).
ALTER TABLE deal_approvals ADD COLUMN note text;
ALTER TABLE deal_approvals ADD COLUMN submitted_by bigint REFERENCES users (id);
