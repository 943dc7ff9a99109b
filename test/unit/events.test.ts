/**
 * toRecords: S3 notifications and EventBridge S3 events as one list of decoded object records;
 * the local stack's notifications, and the suffix rule the tagger applies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Event } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../paths.ts';
import { awsShapedEvent, nextSequencer, withSequencer } from '../../scripts/local/local-s3.ts';
import { IMAGE_SUFFIXES } from '../../src/classifier/image-formats.ts';
import { DEFAULT_UPLOAD_PREFIX } from '../../src/settings.ts';
import { eventBridgeEventName, type ObjectRecord, toRecords } from '../../src/tagging/events.ts';
import { isTaggable } from '../../src/tagging/tags.ts';

const sample = (name: string) => JSON.parse(readFileSync(join(ROOT, 'events', name), 'utf8'));

/** An S3 notification with raw keys, as s3rver emits it. */
const rawNotification = (keys: string[], eventName = 'ObjectCreated:Put'): S3Event =>
  ({
    Records: keys.map((key, i) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2026-11-29T00:00:00.000Z',
      eventName,
      userIdentity: { principalId: 'local' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': 'r', 'x-amz-id-2': 'i' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'c',
        bucket: { name: 'b', ownerIdentity: { principalId: 'o' }, arn: 'arn:aws:s3:::b' },
        object: { key, size: 100 + i, eTag: 'e', sequencer: 1_700_000_000_000 + i },
      },
    })),
  }) as unknown as S3Event;

describe('toRecords', () => {
  it('reads the S3 notification sample: key decoded, size and sequencer kept', () => {
    expect(toRecords(sample('s3-object-created.json'))).toEqual([
      {
        bucket: 'image-tagger-dev-uploads-local',
        key: 'uploads/my dog été.jpg',
        size: 175825,
        eventName: 'ObjectCreated:Put',
        sequencer: '0A1B2C3D4E5F678901',
        etag: '0123456789abcdef0123456789abcdef',
      },
    ]);
  });

  it('reads the EventBridge sample to the same record', () => {
    expect(toRecords(sample('s3-eventbridge-object-created.json'))).toEqual(
      toRecords(sample('s3-object-created.json')),
    );
  });

  it('maps EventBridge detail-type and reason to notification event names', () => {
    expect(eventBridgeEventName('Object Created', 'PutObject')).toBe('ObjectCreated:Put');
    expect(eventBridgeEventName('Object Created', 'POST Object')).toBe('ObjectCreated:Post');
    expect(eventBridgeEventName('Object Created', 'CopyObject')).toBe('ObjectCreated:Copy');
    expect(eventBridgeEventName('Object Created', 'CompleteMultipartUpload')).toBe(
      'ObjectCreated:CompleteMultipartUpload',
    );
    expect(eventBridgeEventName('Object Deleted', 'DeleteObject')).toBe('ObjectRemoved:Delete');
    expect(eventBridgeEventName('Object Deleted', 'Lifecycle Expiration', 'Permanently Deleted')).toBe(
      'ObjectRemoved:Delete',
    );
    expect(eventBridgeEventName('Object Deleted', 'DeleteObject', 'Delete Marker Created')).toBe(
      'ObjectRemoved:DeleteMarkerCreated',
    );
    expect(eventBridgeEventName('Object Tags Added', 'PutObjectTagging').startsWith('ObjectCreated:')).toBe(
      false,
    );
  });

  it('judges each record alone: unreadable ones become a reason in their place', () => {
    const event = sample('s3-object-created.json');
    const good = event.Records[0];
    const badKey = structuredClone(good);
    badKey.s3.object.key = 'uploads/%E0%A4%A.jpg';
    const out = toRecords({ Records: [badKey, { eventName: 'ObjectCreated:Put' }, good, null] });
    expect(out).toHaveLength(4);
    expect(out[0]).toMatch(/not valid percent-encoding/);
    expect(out[1]).toMatch(/without bucket name, object key or event name/);
    expect((out[2] as ObjectRecord).key).toBe('uploads/my dog été.jpg');
    expect(typeof out[3]).toBe('string');
    const eb = sample('s3-eventbridge-object-created.json');
    eb.detail.object.key = '%zz.png';
    expect(toRecords(eb)).toEqual([expect.stringMatching(/not valid percent-encoding/)]);
    delete eb.detail.bucket;
    expect(toRecords(eb)).toEqual([expect.stringMatching(/EventBridge S3 event without/)]);
  });

  it('reads deletions of both shapes, with their sequencer and no ETag', () => {
    const eb = sample('s3-eventbridge-object-created.json');
    eb['detail-type'] = 'Object Deleted';
    eb.detail.reason = 'DeleteObject';
    eb.detail['deletion-type'] = 'Permanently Deleted';
    delete eb.detail.object.etag;
    delete eb.detail.object.size;
    const notification = sample('s3-object-created.json');
    notification.Records[0].eventName = 'ObjectRemoved:Delete';
    delete notification.Records[0].s3.object.eTag;
    delete notification.Records[0].s3.object.size;
    const want = {
      bucket: 'image-tagger-dev-uploads-local',
      key: 'uploads/my dog été.jpg',
      eventName: 'ObjectRemoved:Delete',
      sequencer: '0A1B2C3D4E5F678901',
    };
    expect(toRecords(eb)).toEqual([want]);
    expect(toRecords(notification)).toEqual([want]);
  });

  it('keeps only a usable size', () => {
    const eb = sample('s3-eventbridge-object-created.json');
    for (const size of [-1, '12', Number.NaN, null]) {
      eb.detail.object.size = size;
      expect((toRecords(eb)[0] as ObjectRecord).size).toBeUndefined();
    }
    eb.detail.object.size = 0;
    expect((toRecords(eb)[0] as ObjectRecord).size).toBe(0);
  });

  it('an empty notification is no records; S3 test events too; anything else is one problem', () => {
    expect(toRecords({ Records: [] })).toEqual([]);
    expect(toRecords({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' })).toEqual([]);
    for (const event of [null, undefined, 42, 'x', {}, { Records: 'x' }, { source: 'aws.ec2', detail: {} }])
      expect(toRecords(event)).toEqual([expect.stringMatching(/neither an S3 notification/)]);
  });
});

describe('the local stack sends what S3 sends', () => {
  const keys = [
    'uploads/photo.jpg',
    'uploads/my dog été.Jpg',
    'uploads/a+b (1)/x%20y.PNG',
    "uploads/it's *odd*!.webp",
    'uploads/日本語/写真.tiff',
  ];

  it('keys survive the round trip raw -> URL-encoded notification -> decoded record', () => {
    const event = awsShapedEvent(rawNotification(keys));
    expect(event.Records[1]?.s3.object.key).toBe('uploads/my+dog+%C3%A9t%C3%A9.Jpg');
    const records = toRecords(event) as ObjectRecord[];
    expect(records.map((r) => r.key)).toEqual(keys);
    expect(records.map((r) => r.size)).toEqual([100, 101, 102, 103, 104]);
    expect(records.every((r) => r.eventName === 'ObjectCreated:Put')).toBe(true);
  });

  it('gives every event a strictly increasing sequencer (s3rver repeats one within a millisecond)', () => {
    const many = Array.from({ length: 2000 }, () => nextSequencer());
    expect(many.every((s, i) => /^[0-9A-F]{16}$/.test(s) && (i === 0 || s > (many[i - 1] ?? '')))).toBe(true);
    const event = withSequencer(rawNotification(['uploads/a.jpg', 'uploads/b.jpg']));
    const [a, b] = (toRecords(event) as ObjectRecord[]).map((r) => r.sequencer ?? '');
    expect((b ?? '') > (a ?? '')).toBe(true);
  });

  it('the tagger picks every image suffix in any letter case under the prefix, nothing else', () => {
    const images = [
      'photo.jpg',
      'photo.Jpg',
      'PHOTO.JPEG',
      'a.pNg',
      'b.WebP',
      'c.gif',
      'd.AVIF',
      'e.tif',
      'f.Tiff',
    ];
    const others = ['photo.jpg.txt', 'photo.heic', 'photo', 'jpg', 'photo.jp g', 'x.svg', 'y.bmp'];
    const taggable = (key: string) => isTaggable(key, DEFAULT_UPLOAD_PREFIX, IMAGE_SUFFIXES);
    expect(images.every((n) => taggable(`uploads/${n}`))).toBe(true);
    expect(others.some((n) => taggable(`uploads/${n}`))).toBe(false);
    expect(taggable('elsewhere/photo.jpg')).toBe(false);
  });
});
