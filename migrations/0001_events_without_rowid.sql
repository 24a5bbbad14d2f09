-- job_events is only ever read by (job_id, seq): store it as a WITHOUT ROWID table clustered on that
-- key, so an appended event writes one B-tree instead of a table and its primary-key index.
-- drizzle-kit cannot express WITHOUT ROWID, hence this hand-written migration.
CREATE TABLE `__new_job_events` (
	`job_id` integer NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	`type` text NOT NULL,
	`payload` text,
	`state_before` text,
	`state_after` text NOT NULL,
	`actor` text,
	PRIMARY KEY(`job_id`, `seq`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_job_events` SELECT `job_id`, `seq`, `at`, `type`, `payload`, `state_before`, `state_after`, `actor` FROM `job_events`;
--> statement-breakpoint
DROP TABLE `job_events`;
--> statement-breakpoint
ALTER TABLE `__new_job_events` RENAME TO `job_events`;
