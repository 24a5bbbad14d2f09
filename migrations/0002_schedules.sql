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
CREATE INDEX `schedules_due` ON `schedules` (`next_at`) WHERE "schedules"."paused" = 0;