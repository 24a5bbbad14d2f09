CREATE TABLE `job_slots` (
	`type` text NOT NULL,
	`key` text NOT NULL,
	`running` integer NOT NULL,
	`window_start` integer NOT NULL,
	`window_count` integer NOT NULL,
	`head_id` integer,
	`head_priority` integer,
	`head_run_after` integer,
	PRIMARY KEY(`type`, `key`)
);
--> statement-breakpoint
CREATE INDEX `job_slots_heads` ON `job_slots` (`type`,"head_priority" DESC,`head_id`) WHERE "job_slots"."head_id" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `schedules` (
	`name` text PRIMARY KEY NOT NULL,
	`cron` text NOT NULL,
	`timezone` text,
	`type` text NOT NULL,
	`params` text,
	`overlap` text NOT NULL,
	`missed` text NOT NULL,
	`backfill` integer,
	`paused` integer NOT NULL,
	`next_at` integer NOT NULL,
	`last_job_id` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `schedules_due` ON `schedules` (`next_at`) WHERE "schedules"."paused" = 0;--> statement-breakpoint
DROP INDEX `jobs_owner_created`;--> statement-breakpoint
DROP INDEX `jobs_type_created`;--> statement-breakpoint
ALTER TABLE `jobs` ADD `concurrency_key` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `traceparent` text;--> statement-breakpoint
CREATE INDEX `jobs_state_id` ON `jobs` (`state`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_owner_id` ON `jobs` (`owner`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_type_id` ON `jobs` (`type`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_lifecycle_id` ON `jobs` (`lifecycle`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_lifecycle_state_id` ON `jobs` (`lifecycle`,`state`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_claim_type` ON `jobs` (`type`,"priority" DESC,`id`) WHERE "jobs"."claimable" = 1 AND "jobs"."concurrency_key" IS NULL;--> statement-breakpoint
CREATE INDEX `jobs_claim_key` ON `jobs` (`type`,`concurrency_key`,"priority" DESC,`id`) WHERE "jobs"."claimable" = 1 AND "jobs"."concurrency_key" IS NOT NULL;